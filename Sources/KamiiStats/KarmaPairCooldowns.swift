public import DiscordModels
public import KamiiRedis

/// A karma pair cooldown still running: the giver last gave the receiver karma at `givenAt`.
public struct KarmaPairCooldown: Sendable, Equatable {
    public var guild: GuildID
    public var giver: UserID
    public var receiver: UserID
    /// Unix milliseconds, the bot's wall clock when it received the reaction.
    public var givenAt: UInt64

    public init(guild: GuildID, giver: UserID, receiver: UserID, givenAt: UInt64) {
        self.guild = guild
        self.giver = giver
        self.receiver = receiver
        self.givenAt = givenAt
    }
}

/// The karma pair cooldowns' privacy side: which ones name a guild or a user (for an export), and
/// forgetting a user's. The flush script writes them (`<prefix>:{g}:karma-pair:<giver>:<receiver>`)
/// and Redis drops each when its cooldown ends, a day at most.
public struct KarmaPairCooldowns: Sendable {
    public let redis: RedisClient
    public let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys = StatsKeys()) {
        self.redis = redis
        self.keys = keys
    }

    /// The guild's cooldowns running now.
    public func running(in guild: GuildID) async throws -> [KarmaPairCooldown] {
        try await running(among: redis.keys(matching: keys.guildPrefix(guild) + "karma-pair:*"))
    }

    /// The cooldowns running now among `scanned` (keys a walk of the keyspace found, e.g.
    /// ``StatsKeys/karmaKeys(in:)``; any that is not a pair cooldown is passed over).
    public func running(among scanned: [String]) async throws -> [KarmaPairCooldown] {
        try await read(scanned.filter { keys.karmaPair(ofKey: $0) != nil })
    }

    /// The cooldowns running now, in every guild, where the user is the giver or the receiver.
    public func running(naming user: UserID) async throws -> [KarmaPairCooldown] {
        try await running(naming: user, among: redis.keys(matching: keys.everyKarmaPair))
    }

    /// ``running(naming:)`` among `scanned` (keys a walk of the keyspace found; any that is not a
    /// pair cooldown is passed over).
    public func running(naming user: UserID, among scanned: [String]) async throws -> [KarmaPairCooldown] {
        try await read(naming(user, among: scanned))
    }

    /// Deletes every cooldown naming the user; returns the guilds that had one.
    @discardableResult
    public func forget(_ user: UserID) async throws -> Set<GuildID> {
        try await forget(user, among: redis.keys(matching: keys.everyKarmaPair))
    }

    /// ``forget(_:)`` among `scanned` (keys a walk of the keyspace found; any that is not a pair
    /// cooldown is passed over).
    @discardableResult
    public func forget(_ user: UserID, among scanned: [String]) async throws -> Set<GuildID> {
        var guilds = Set<GuildID>()
        for (key, reply) in try await each(naming(user, among: scanned), "UNLINK") where (reply.int ?? 0) > 0 {
            if let guild = keys.guild(ofKey: key) { guilds.insert(guild) }
        }
        return guilds
    }

    private func naming(_ user: UserID, among scanned: [String]) -> [String] {
        scanned.filter { key in
            guard let pair = keys.karmaPair(ofKey: key) else { return false }
            return pair.giver == user || pair.receiver == user
        }
    }

    /// Each key's value; a key gone since the scan (its cooldown ended) is left out.
    private func read(_ scanned: [String]) async throws -> [KarmaPairCooldown] {
        var cooldowns: [KarmaPairCooldown] = []
        for (key, reply) in try await each(scanned, "GET") {
            guard let guild = keys.guild(ofKey: key), let pair = keys.karmaPair(ofKey: key), let givenAt = reply.string.flatMap(UInt64.init)
            else { continue }
            cooldowns.append(KarmaPairCooldown(guild: guild, giver: pair.giver, receiver: pair.receiver, givenAt: givenAt))
        }
        return cooldowns.sorted { ($0.guild.rawValue, $0.giver.rawValue, $0.receiver.rawValue) < ($1.guild.rawValue, $1.giver.rawValue, $1.receiver.rawValue) }
    }

    /// `command` on each key the scan found (once, though SCAN may name a key twice), one key per
    /// command — on Redis Cluster the guilds' keys live in different slots — 2,000 to a round trip;
    /// each key with its reply.
    private func each(_ scanned: [String], _ command: String) async throws -> [(key: String, reply: RedisValue)] {
        let found = Array(Set(scanned))
        var replies: [(key: String, reply: RedisValue)] = []
        for first in stride(from: 0, to: found.count, by: 2_000) {
            let part = found[first..<min(first + 2_000, found.count)]
            var pipeline = RedisPipeline()
            for key in part { pipeline.append(command, key) }
            for (key, reply) in zip(part, try await redis.execute(pipeline)) { replies.append((key, try reply.orThrow())) }
        }
        return replies
    }
}
