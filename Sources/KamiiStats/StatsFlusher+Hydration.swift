import DiscordModels
import KamiiRedis

/// Loading a guild Redis does not have (never saw, or lost) from the checkpoint in SQL before any
/// change is added to it.
extension StatsFlusher {
    /// Before a flush, with a SQL store: the guilds this process has not flushed yet are looked up
    /// in Redis (one HEXISTS each, once per guild) and loaded from SQL if Redis lacks them. Left to
    /// the script, such a guild is refused in the middle of a flush whose other guilds are applied,
    /// and the shards' positions are written only once it is in: a process killed in between
    /// replays the applied guilds' messages, and counts them twice. (A guild Redis loses later is
    /// still refused and loaded that way.) Returns the guilds that could not be loaded (the SQL store
    /// unreachable): nothing of their batches has run, so they wait like refused ones. Throws when
    /// Redis does not answer.
    func loadUnseen(_ guilds: some Collection<UInt64>) async throws -> [UInt64] {
        guard hydrator != nil else { return [] }
        let unseen = guilds.filter { !seenLoaded.contains($0) }
        guard !unseen.isEmpty else { return [] }
        if seenLoaded.count > 1_000_000 { seenLoaded.removeAll() }
        var pipeline = RedisPipeline()
        for guild in unseen { pipeline.append("HEXISTS", configuration.keys.members(in: GuildID(guild)), StatsKeys.batchField) }
        let replies = try await redis.execute(pipeline)
        var missing: [GuildID] = []
        for (guild, reply) in zip(unseen, replies) {
            switch reply {
            case .integer(0): missing.append(GuildID(guild))
            // Keys Kamii did not write (WRONGTYPE) are the script's to judge, and to report.
            case .integer(1): seenLoaded.insert(guild)
            case .error(let message) where RedisError.server(message).isWrongType: seenLoaded.insert(guild)
            // Anything else (LOADING after a restart, …): asked again before the next flush, which
            // meets the same answer and is retried.
            default: break
            }
        }
        let failed = Set(await hydrate(missing))
        for guild in missing where !failed.contains(guild) { seenLoaded.insert(guild.rawValue) }
        return failed.map(\.rawValue)
    }

    /// Loads guilds Redis does not have from the checkpoint, then marks them loaded (unless a
    /// batch got there first, which cannot happen while this flusher is the guild's only writer).
    /// Returns the guilds that could not be loaded now. After a failure the rest are not tried,
    /// and no load is for a quiet period (``Configuration/hydrationBackoff``): the store is likely
    /// away, and one that hangs would hold every flush for a timeout per guild. The guild that
    /// failed last is tried last, and a load that works ends the backoff.
    func hydrate(_ guilds: [GuildID]) async -> [GuildID] {
        guard let hydrator, !guilds.isEmpty else { return [] }
        if let quietUntil = hydrationQuietUntil, ContinuousClock.now < quietUntil { return guilds }
        var guilds = guilds
        if let last = hydrationFailedLast, let at = guilds.firstIndex(of: last) { guilds.append(guilds.remove(at: at)) }
        for (index, guild) in guilds.enumerated() {
            do {
                try await hydrate(guild, from: hydrator)
                hydrationBackoff = .zero
            } catch {
                hydrationFailedLast = guild
                hydrationBackoff = min(
                    max(configuration.hydrationBackoff, hydrationBackoff * 2), max(configuration.hydrationBackoff, configuration.hydrationBackoffLimit))
                hydrationQuietUntil = .now + hydrationBackoff
                logger.warning("guild not loaded from the checkpoint; its changes wait, and loads pause", metadata: [
                    "guild": "\(guild)", "waiting": "\(guilds.count - index)", "pause_seconds": "\(hydrationBackoff.components.seconds)", "error": "\(error)",
                ])
                return Array(guilds[index...])
            }
        }
        hydrationQuietUntil = nil
        hydrationFailedLast = nil
        return []
    }

    /// Writes the guild's rows from SQL into Redis, then checks them against SQL once more before
    /// marking the guild loaded: a privacy deletion (``PrivacyDeletion``) that ran between the read
    /// and the write would otherwise see its rows come back. Until the marker is set the flush
    /// script refuses the guild, so nothing but a load writes into it, and an earlier attempt's
    /// leftovers are cleared first.
    private func hydrate(_ guild: GuildID, from hydrator: any GuildHydrator) async throws {
        let keys = configuration.keys
        let members = try await hydrator.members(of: guild)
        _ = try await redis.evaluate(Self.clearUnloaded, keys: guildKeys(guild), arguments: [])
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
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        let deleted = try await takeOutDeleted(members.map(\.user), in: guild, from: hydrator)
        _ = try await redis.send("HSETNX", keys.members(in: guild), StatsKeys.batchField, "hydrated").orThrow()
        totals.hydrations += 1
        logger.info("guild loaded from the checkpoint", metadata: ["guild": "\(guild)", "members": "\(members.count - deleted)"])
    }

    /// Removes from Redis the members just written whom SQL no longer holds (deleted meanwhile);
    /// returns how many.
    private func takeOutDeleted(_ written: [UserID], in guild: GuildID, from hydrator: any GuildHydrator) async throws -> Int {
        guard !written.isEmpty else { return 0 }
        let still = Set(try await hydrator.members(of: guild).map(\.user))
        let deleted = written.filter { !still.contains($0) }.map { String($0.rawValue) }
        guard !deleted.isEmpty else { return 0 }
        let keys = configuration.keys
        var pipeline = RedisPipeline()
        for start in stride(from: 0, to: deleted.count, by: 1_000) {
            let part = deleted[start..<min(start + 1_000, deleted.count)]
            pipeline.append(["HDEL", keys.members(in: guild)] + part)
            for board in Leaderboard.allCases { pipeline.append(["ZREM", keys.leaderboard(board, in: guild)] + part) }
        }
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        logger.notice("members deleted while their guild was loading were taken out again", metadata: ["guild": "\(guild)", "members": "\(deleted.count)"])
        return deleted.count
    }

    private func guildKeys(_ guild: GuildID) -> [String] {
        let keys = configuration.keys
        return [keys.members(in: guild)] + Leaderboard.allCases.map { keys.leaderboard($0, in: guild) }
    }

    /// Clears what an unfinished load left (KEYS: the members hash, then the leaderboards): a guild
    /// without its batch marker holds nothing else but the time of its latest privacy deletion,
    /// which stays (the flush reads it to leave out changes recorded before the deletion).
    static let clearUnloaded = RedisScript("""
        if redis.call('HEXISTS', KEYS[1], '\(StatsKeys.batchField)') == 0 then
            local deleted = redis.call('HGET', KEYS[1], '\(StatsKeys.deletedField)')
            redis.call('DEL', unpack(KEYS))
            if deleted then redis.call('HSET', KEYS[1], '\(StatsKeys.deletedField)', deleted) end
        end
        return 0
        """)
}
