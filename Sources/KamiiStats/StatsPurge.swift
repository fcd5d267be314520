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
    /// from zero instead of reloading it from SQL before the SQL rows are deleted. The deletion is
    /// remembered (``StatsKeys/deletions(in:)``, field ``StatsKeys/wholeGuild``). Returns the keys
    /// deleted.
    @discardableResult
    public func purge(_ guild: GuildID) async throws -> Int {
        let deletions = keys.deletions(in: guild)
        let found = try await redis.keys(matching: keys.guildPrefix(guild) + "*").filter { $0 != deletions }
        var pipeline = RedisPipeline()
        pipeline.append("MULTI")
        if !found.isEmpty { pipeline.append(["UNLINK"] + found) }
        pipeline.append("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        for set in [keys.dirtyGuilds, keys.dirtyGuilds + ":checkpointing"] { pipeline.append("SREM", set, String(guild.rawValue)) }
        // The script's source rather than its hash: a NOSCRIPT inside MULTI would come after the UNLINK.
        pipeline.append(
            "EVAL", Self.remember, "2", deletions, keys.members(in: guild), StatsKeys.wholeGuild, String(StatsKeys.tombstoneLifetimeMilliseconds))
        pipeline.append("EXEC")
        // The script failing on a key not of Kamii's shape is an error inside EXEC's reply.
        try await redis.executeTransaction(pipeline)
        return found.count
    }

    /// The user's record in every guild, their places on its leaderboards, their
    /// level-ups and join waiting to be carried out, and
    /// the karma ledgers' entries and pair cooldowns naming them; in each guild that held a record or
    /// such an entry, or that Redis does not hold loaded (no batch marker: lost, or a load under way)
    /// among those it has a members hash for and `known` (where SQL holds the user's counters),
    /// the deletion is remembered (``StatsKeys/deletions(in:)``): else the bot's changes of theirs,
    /// held until the guild is loaded, would start a record there again. Returns how many guilds
    /// held a record of them. The members hashes and karma keys are found by one walk of the
    /// keyspace before anything is deleted: a karma key a flush creates in between is left to the
    /// second Redis pass of a ``PrivacyDeletion``.
    @discardableResult
    public func purge(_ user: UserID, rememberingIn known: [GuildID] = []) async throws -> Int {
        // Every guild's members hash (`<prefix>:{<guild>}:members`; the guild is read back from each),
        // and the karma keys, found by one walk of the keyspace.
        let scanned = try await redis.keys(matching: keys.everyMembersOrKarmaKey)
        let found = scanned.compactMap(keys.guild(ofMembersKey:))
        let guilds = found + Set(known).subtracting(found)
        let member = String(user.rawValue)
        let lifetime = String(StatsKeys.tombstoneLifetimeMilliseconds)
        var removed = 0
        for first in stride(from: 0, to: guilds.count, by: 2_000) {
            let part = guilds[first..<min(first + 2_000, guilds.count)]
            let calls = part.map { guild in
                (
                    keys: [
                        keys.members(in: guild), keys.waitingLevelUps(in: guild), keys.leaderboard(.xp, in: guild), keys.leaderboard(.karma, in: guild),
                        keys.deletions(in: guild), keys.waitingJoins(in: guild),
                    ],
                    arguments: [member, lifetime])
            }
            // One reply per guild: whether the member had a record there.
            removed += try await redis.evaluateEach(Self.purgeMember, calls).filter { try $0.orThrow().int == 1 }.count
        }
        // The karma ledgers: reactions the user gave, and reactions that gave the user karma. Where
        // they had some, the deletion is remembered too (a member who only reacts has no record).
        var reactedIn = try await KarmaLedger(redis: redis, keys: keys).forget(user, among: scanned)
        // The karma pair cooldowns they are in (each kept until its cooldown ends, a day at most).
        reactedIn.formUnion(try await KarmaPairCooldowns(redis: redis, keys: keys).forget(user, among: scanned))
        let reacted = reactedIn.sorted { $0.rawValue < $1.rawValue }
        for first in stride(from: 0, to: reacted.count, by: 2_000) {
            var pipeline = RedisPipeline()
            for guild in reacted[first..<min(first + 2_000, reacted.count)] {
                pipeline.append("EVAL", Self.remember, "2", keys.deletions(in: guild), keys.members(in: guild), member, lifetime)
            }
            for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        }
        return removed
    }

    /// Lua: `remember(deletions, members, field, lifetime)` sets `field` of the deletions hash to
    /// Redis's clock now (ms), keeps the hash `lifetime` ms from now, and stamps the same time in the
    /// members hash's ``StatsKeys/deletedField``.
    static let rememberFunction = """
        local function remember(deletions, members, field, lifetime)
            local now = redis.call('TIME')
            local at = now[1] .. string.format('%03d', math.floor(tonumber(now[2]) / 1000))
            redis.call('HSET', deletions, field, at)
            redis.call('PEXPIRE', deletions, lifetime)
            redis.call('HSET', members, '\(StatsKeys.deletedField)', at)
        end
        """

    /// KEYS the deletions hash and the members hash; ARGV the field and the lifetime.
    static let remember = rememberFunction + "\nremember(KEYS[1], KEYS[2], ARGV[1], ARGV[2])\n"

    /// KEYS: the guild's members hash, level-ups waiting, XP and karma leaderboards, deletions hash,
    /// joins waiting; ARGV the user and the deletion's lifetime. Returns 1 when the user had a
    /// record, else 0; remembers the deletion when they had one, or when the guild is not loaded (no
    /// batch marker). The user's checkpoint marks (dirty set and its twin) stay: a checkpoint that
    /// read them before the deletion and wrote their row back after it, then died before deleting
    /// it again, leaves them for the next, which finds no record and the deletion remembered, and
    /// deletes the row — taken here, nothing would.
    static let purgeMember = RedisScript(rememberFunction + """

        local user = ARGV[1]
        local had = redis.call('HDEL', KEYS[1], user)
        redis.call('HDEL', KEYS[2], user)
        redis.call('ZREM', KEYS[3], user)
        redis.call('ZREM', KEYS[4], user)
        redis.call('HDEL', KEYS[6], user)
        if had == 1 or redis.call('HEXISTS', KEYS[1], '\(StatsKeys.batchField)') == 0 then remember(KEYS[5], KEYS[1], user, ARGV[2]) end
        return had
        """)
}
