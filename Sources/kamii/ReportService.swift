import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
import KamiiShards
import KamiiStats
import Logging
import ServiceLifecycle

/// Every interval, what the process is doing: a log line, or with `--live` a screen redrawn in
/// place (events/s, guild actors, XP flushed, the top of the busiest guild's leaderboard).
struct ReportService: Service {
    let manager: ShardManager
    let tally: DispatchTally
    let hotPath: HotPathService?
    let redis: RedisClient?
    let interval: Duration
    let live: Bool
    let logger: Logger

    func run() async throws {
        let screen = live ? LiveOutput() : nil
        var last = (at: ContinuousClock.now, total: 0)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let interval = live ? .seconds(1) : interval
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { return }
            let now = ContinuousClock.now
            let total = tally.total
            let seconds = Double((now - last.at) / .milliseconds(1)) / 1_000
            let shardCount = await manager.plan?.shards.count ?? 0
            let perSecond = Int(Double(total - last.total) / max(seconds, 0.001))
            last = (now, total)
            var metadata: Logger.Metadata = [
                "per_second": "\(perSecond)", "total": "\(total)",
                "shards_ready": "\(await manager.readyShardCount())/\(shardCount)", "by_type": "\(tally.summary)",
            ]
            let waitingForLease = await manager.shardsWaitingForLease()
            if waitingForLease > 0 { metadata["shards_waiting_for_lease"] = "\(waitingForLease)" }
            var board: (guild: GuildID, rows: [(user: String, xp: Int)])?
            if let hotPath {
                let flushed = await hotPath.flusher.totals
                metadata["guilds_active"] = "\(hotPath.router.activeGuilds)"
                metadata["xp_grants"] = "\(flushed.grantsApplied)"
                metadata["changes_flushed"] = "\(flushed.deltas)"
                metadata["unflushed"] = "\(hotPath.router.stats.unacknowledged)"
                metadata["flush_lag_ms"] = "\(Int(await hotPath.flusher.lag() / .milliseconds(1)))"
                metadata["level_ups"] = "\(flushed.levelUps)"
                metadata["flush_failures"] = "\(flushed.failedAttempts)"
                metadata["malformed"] = "\(hotPath.router.counters.malformed)"
                let rewards = hotPath.rewarder.totals
                metadata["reward_roles"] = "\(rewards.rolesAdded + rewards.rolesRestored)"
                metadata["announcements"] = "\(rewards.announcements)"
                metadata["reward_failures"] = "\(rewards.failures)"
                metadata["broken_guild_batches"] = "\(flushed.brokenGuildBatches)"
                if live, let redis, let guild = await hotPath.flusher.busiestGuild {
                    board = (guild, await Self.top(5, of: guild, keys: hotPath.flusher.configuration.keys, redis))
                }
            }
            if let screen {
                screen.show(LiveScreen.render(metadata, board: board, redrawInPlace: screen.isTerminal))
            } else {
                logger.info("dispatches", metadata: metadata)
            }
        }
    }

    /// The top of a guild's XP leaderboard; empty when Redis cannot say.
    private static func top(_ count: Int, of guild: GuildID, keys: StatsKeys, _ redis: RedisClient) async -> [(user: String, xp: Int)] {
        guard let reply = try? await redis.send("ZREVRANGE", keys.leaderboard(.xp, in: guild), "0", String(count - 1), "WITHSCORES").array
        else { return [] }
        return stride(from: 0, to: reply.count - 1, by: 2).compactMap { index in
            guard let user = reply[index].string, let xp = reply[index + 1].int else { return nil }
            return (user, xp)
        }
    }
}

/// The live view's screen. On a terminal it is redrawn in place (ANSI home, clear); written to a
/// file or a pipe, each screen follows the last, without escapes.
enum LiveScreen {
    static func render(_ figures: Logger.Metadata, board: (guild: GuildID, rows: [(user: String, xp: Int)])?, redrawInPlace: Bool = true) -> String {
        func figure(_ key: String) -> String { figures[key].map { "\($0)" } ?? "-" }
        var lines = [
            "Kamii — live view (Ctrl-C stops: shards close resumably, everything is flushed)",
            "",
            "shards ready      \(figure("shards_ready"))",
            "events/s          \(figure("per_second"))    total \(figure("total"))",
            "guild actors      \(figure("guilds_active")) active",
            "XP                \(figure("xp_grants")) messages earned XP    level-ups \(figure("level_ups"))",
            "Redis             \(figure("changes_flushed")) changes flushed    \(figure("unflushed")) waiting (for \(figure("flush_lag_ms")) ms)    \(figure("flush_failures")) failed attempts",
            "rewards           \(figure("reward_roles")) roles given    \(figure("announcements")) announcements    \(figure("reward_failures")) refused or failed",
            "malformed         \(figure("malformed"))    broken guild batches \(figure("broken_guild_batches"))",
            "",
        ]
        if let board {
            lines.append("top of guild \(board.guild) by XP:")
            for (rank, row) in board.rows.enumerated() {
                let level = LevelCurve.level(forTotalXP: Int64(row.xp))
                lines.append("  \(rank + 1). user \(row.user)".padding(toLength: 34, withPad: " ", startingAt: 0) + "level \(level)   \(row.xp) XP")
            }
        } else {
            lines.append("(no leaderboard yet)")
        }
        lines.append("")
        lines.append("by type: \(figure("by_type"))")
        return (redrawInPlace ? "\u{1B}[H\u{1B}[2J" : "\n") + lines.joined(separator: "\n") + "\n"
    }
}
