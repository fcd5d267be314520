import DiscordModels
import KamiiRedis

/// Loading a guild Redis does not have (never saw, or lost) from the checkpoint in SQL before any
/// change is added to it.
extension StatsFlusher {
    /// Loads guilds Redis does not have from the checkpoint, then marks them loaded (unless a
    /// batch got there first, which cannot happen while this flusher is the guild's only writer).
    /// Returns the guilds that could not be loaded now.
    func hydrate(_ guilds: [GuildID]) async -> [GuildID] {
        guard let hydrator else { return [] }
        var failed: [GuildID] = []
        for guild in guilds {
            do {
                try await hydrate(guild, from: hydrator)
            } catch {
                logger.warning("guild not loaded from the checkpoint; its changes wait", metadata: ["guild": "\(guild)", "error": "\(error)"])
                failed.append(guild)
            }
        }
        return failed
    }

    private func hydrate(_ guild: GuildID, from hydrator: any GuildHydrator) async throws {
        let keys = configuration.keys
        let members = try await hydrator.members(of: guild)
        var pipeline = RedisPipeline()
        for start in stride(from: 0, to: members.count, by: 1_000) {
            let part = members[start..<min(start + 1_000, members.count)]
            pipeline.beginCommand(arguments: 2 + 2 * part.count)
            pipeline.appendArgument("HSET")
            pipeline.appendArgument(keys.members(in: guild))
            for member in part {
                pipeline.appendArgument(String(member.user.rawValue))
                pipeline.appendArgument(bytes: MemberRecord(
                    xp: Int(member.xp), level: member.level, messages: Int(member.messageCount), xpMessages: Int(member.xpMessages),
                    lastXPAt: member.lastXPAt.map { UInt64(max(0, $0)) }, karma: Int(member.karma), trust: member.trust).stored)
            }
            let xp = part.filter { $0.xp > 0 }.flatMap { [String($0.xp), String($0.user.rawValue)] }
            if !xp.isEmpty { pipeline.append(["ZADD", keys.leaderboard(.xp, in: guild)] + xp) }
            let karma = part.filter { $0.karma != 0 }.flatMap { [String($0.karma), String($0.user.rawValue)] }
            if !karma.isEmpty { pipeline.append(["ZADD", keys.leaderboard(.karma, in: guild)] + karma) }
        }
        pipeline.append("HSETNX", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        totals.hydrations += 1
        logger.info("guild loaded from the checkpoint", metadata: ["guild": "\(guild)", "members": "\(members.count)"])
    }
}
