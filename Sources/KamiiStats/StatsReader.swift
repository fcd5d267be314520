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

    /// Every record of the guild, by user.
    public func members(of guild: GuildID) async throws -> [UserID: MemberRecord] {
        let reply = try await redis.send("HGETALL", keys.members(in: guild)).array ?? []
        var records: [UserID: MemberRecord] = [:]
        for index in stride(from: 0, to: reply.count - 1, by: 2) {
            guard let user = reply[index].string.flatMap(UInt64.init), let record = reply[index + 1].bytes.flatMap(MemberRecord.init(stored:)) else { continue }
            records[UserID(user)] = record
        }
        return records
    }
}
