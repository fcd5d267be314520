public import DiscordModels
public import KamiiRedis

/// Deletes a guild's or a user's live stats from Redis, for a privacy request (`kamii data
/// delete`). Run it before deleting from SQL: a checkpoint in between then finds nothing to write
/// back.
public struct StatsPurge: Sendable {
    public let redis: RedisClient
    public let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys = StatsKeys()) {
        self.redis = redis
        self.keys = keys
    }

    /// Every key of the guild, and its place in the checkpointer's guild list. The guild's batch
    /// marker is set back to `hydrated`: a bot still running then counts the guild's new activity
    /// from zero instead of reloading it from SQL before the SQL rows are deleted. Returns the keys
    /// deleted.
    @discardableResult
    public func purge(_ guild: GuildID) async throws -> Int {
        let found = try await redis.keys(matching: keys.guildPrefix(guild) + "*")
        var pipeline = RedisPipeline()
        pipeline.append("MULTI")
        if !found.isEmpty { pipeline.append(["UNLINK"] + found) }
        pipeline.append("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        for set in [keys.dirtyGuilds, keys.dirtyGuilds + ":checkpointing"] { pipeline.append("SREM", set, String(guild.rawValue)) }
        pipeline.append("EXEC")
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        return found.count
    }

    /// The user's record in every guild, their places on its leaderboards and in its dirty sets, and
    /// the karma ledgers' entries naming them. Returns how many guilds held a record of them.
    @discardableResult
    public func purge(_ user: UserID) async throws -> Int {
        // Every guild's members hash (`<prefix>:{<guild>}:members`); the guild is read back from each.
        let guilds = try await redis.keys(matching: "\(keys.prefix):{*}:members").compactMap(keys.guild(ofKey:))
        let member = String(user.rawValue)
        var removed = 0
        for first in stride(from: 0, to: guilds.count, by: 2_000) {
            var pipeline = RedisPipeline()
            for guild in guilds[first..<min(first + 2_000, guilds.count)] {
                pipeline.append("HDEL", keys.members(in: guild), member)
                pipeline.append("HDEL", keys.waitingLevelUps(in: guild), member)
                for board in Leaderboard.allCases { pipeline.append("ZREM", keys.leaderboard(board, in: guild), member) }
                let dirty = keys.dirtyMembers(in: guild)
                for set in [dirty, dirty + ":checkpointing"] { pipeline.append("SREM", set, member) }
            }
            // Six replies per guild; the first (HDEL of the record) says whether the member was there.
            let replies = try await redis.execute(pipeline).map { try $0.orThrow() }
            removed += stride(from: 0, to: replies.count, by: 6).filter { replies[$0].int == 1 }.count
        }
        // The karma ledgers: reactions the user gave, and reactions that gave the user karma.
        try await KarmaLedger(redis: redis, keys: keys).forget(user)
        return removed
    }
}
