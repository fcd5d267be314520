public import DiscordModels
public import KamiiRedis

/// Reads members' live stats from Redis (what the flusher wrote, as ``MemberRecord``s).
public struct StatsReader: Sendable {
    public let redis: RedisClient
    public let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys = StatsKeys()) {
        self.redis = redis
        self.keys = keys
    }

    /// The member's record in the guild; nil when Redis has none.
    public func member(_ user: UserID, in guild: GuildID) async throws -> MemberRecord? {
        try await redis.send("HGET", keys.members(in: guild), String(user.rawValue)).bytes.flatMap(MemberRecord.init(stored:))
    }

    /// The member's record in a guild Redis holds: nil when it holds the guild and not the member.
    /// Throws ``GuildNotLoaded`` when Redis holds nothing of the guild (no batch marker: lost with
    /// a restart, or never flushed): the checkpoint in SQL may still have the member, and is loaded
    /// before the guild's next flush.
    public func member(_ user: UserID, inLoaded guild: GuildID) async throws -> MemberRecord? {
        let (stored, guildHeld) = try await storedAndGuildHeld(user, in: guild)
        guard guildHeld else { throw GuildNotLoaded(guild: guild) }
        return stored.flatMap(MemberRecord.init(stored:))
    }

    /// The member's stored record, and whether Redis holds the guild (its batch marker), in one read.
    private func storedAndGuildHeld(_ user: UserID, in guild: GuildID) async throws -> (stored: [UInt8]?, guildHeld: Bool) {
        let replies = try await redis.send("HMGET", keys.members(in: guild), String(user.rawValue), StatsKeys.batchField).array
        guard let replies, replies.count == 2 else { throw RedisError.protocolViolation("HMGET answered \(replies.map { "\($0)" } ?? "no array")") }
        return (replies[0].bytes, !replies[1].isNull)
    }

    /// What Redis holds of a member, told apart: for an operator's tool, where each case is said.
    public enum Lookup: Sendable {
        case found(MemberRecord)
        /// A record this binary cannot read (damaged, or written by a later version).
        case unreadable
        /// The guild is held and the member is not in it.
        case absent
        /// Redis holds nothing of the guild (``GuildNotLoaded``).
        case guildNotLoaded
    }

    /// The member's record in the guild, or why there is none.
    public func lookUp(_ user: UserID, in guild: GuildID) async throws -> Lookup {
        let (stored, guildHeld) = try await storedAndGuildHeld(user, in: guild)
        if let stored { return MemberRecord(stored: stored).map(Lookup.found) ?? .unreadable }
        return guildHeld ? .absent : .guildNotLoaded
    }

    /// Redis holds nothing of the guild yet (``member(_:inLoaded:)``).
    public struct GuildNotLoaded: Error, Sendable, Equatable {
        public let guild: GuildID

        public init(guild: GuildID) {
            self.guild = guild
        }
    }

    /// The user's record in every guild whose members hash is among `scanned` (keys a walk of the
    /// keyspace found, ``StatsKeys/everyMembersOrKarmaKey``; any others are passed over), read a
    /// thousand guilds to a round trip: a privacy export's live part.
    public func records(of user: UserID, among scanned: [String]) async throws -> [(guild: GuildID, record: MemberRecord)] {
        let guilds = scanned.compactMap(keys.guild(ofMembersKey:)).sorted { $0.rawValue < $1.rawValue }
        let member = String(user.rawValue)
        var found: [(guild: GuildID, record: MemberRecord)] = []
        for first in stride(from: 0, to: guilds.count, by: 1_000) {
            let part = guilds[first..<min(first + 1_000, guilds.count)]
            var pipeline = RedisPipeline()
            for guild in part { pipeline.append("HGET", keys.members(in: guild), member) }
            for (guild, reply) in zip(part, try await redis.execute(pipeline)) {
                if let record = try reply.orThrow().bytes.flatMap(MemberRecord.init(stored:)) { found.append((guild, record)) }
            }
        }
        return found
    }

    /// Every record of the guild, by user, read by HSCAN a thousand at a time: a guild of millions
    /// does not block Redis (and the flushes waiting on it) the way HGETALL would.
    public func scanMembers(of guild: GuildID) async throws -> [(user: UserID, record: MemberRecord)] {
        try await redis.fields(ofHash: keys.members(in: guild)).compactMap { field, value in
            guard let user = UInt64(field), let record = MemberRecord(stored: value) else { return nil }
            return (UserID(user), record)
        }
    }

    /// Every record of the guild, by user (read as ``scanMembers(of:)`` reads them).
    public func members(of guild: GuildID) async throws -> [UserID: MemberRecord] {
        Dictionary(try await scanMembers(of: guild).map { ($0.user, $0.record) }, uniquingKeysWith: { _, latest in latest })
    }
}
