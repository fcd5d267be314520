import DiscordModels
public import KamiiCore
public import KamiiRedis

/// The guilds' thread maps the flusher keeps in Redis (``ThreadMapWrites``), read back into a
/// starting process's ``ThreadParents`` before its shards resume: a resumed session gets no
/// GUILD_CREATE, so without them a thread's messages would not follow its channel's XP rules until
/// the thread changed.
public struct StoredThreadParents: Sendable {
    private let redis: RedisClient
    private let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// What a read restored, and what it could not.
    public struct Loaded: Sendable, Equatable {
        public var guilds = 0
        public var threads = 0
        /// Guilds whose key holds something else than Kamii writes (left as they are).
        public var unreadable: [UInt64] = []
    }

    /// Restores into `threads` the stored maps of the guilds on `shards` (of `shardCount`; nil:
    /// every guild) — processes sharing a Redis each read their own. A listed guild whose map is
    /// gone (emptied, purged) is taken off the list; one whose key is not a map of snowflakes is
    /// skipped and named in ``Loaded/unreadable``.
    @discardableResult
    public func load(into threads: ThreadParents, shards: Set<Int>? = nil, of shardCount: Int = 1) async throws -> Loaded {
        var loaded = Loaded()
        var gone: [UInt64] = []
        // SSCAN may return a member twice.
        let listed = Array(Set(try await redis.members(ofSet: keys.threadGuilds).compactMap { UInt64($0) }).filter { guild in
            shards.map { $0.contains(Int((guild >> 22) % UInt64(max(1, shardCount)))) } ?? true
        })
        for start in stride(from: 0, to: listed.count, by: 1_000) {
            let page = listed[start..<min(start + 1_000, listed.count)]
            var pipeline = RedisPipeline()
            for guild in page { pipeline.append("HGETALL", keys.threads(in: GuildID(guild))) }
            for (guild, map) in zip(page, try await redis.execute(pipeline)) {
                // Any other error (busy, loading…) is Redis's, not the key's: the read fails.
                if case .error(let message) = map, !message.hasPrefix("WRONGTYPE") { throw RedisError.server(message) }
                guard let parents = Self.parents(map) else {
                    loaded.unreadable.append(guild)
                    continue
                }
                if parents.isEmpty {
                    gone.append(guild)
                    continue
                }
                threads.restore(parents, of: GuildID(guild))
                loaded.guilds += 1
                loaded.threads += parents.count
            }
        }
        try await unlist(gone)
        return loaded
    }

    /// Takes guilds without a map off the list. A writer adds to the list after writing the map,
    /// so a guild whose map is there again once it is off goes back on: a map written meanwhile
    /// stays listed.
    private func unlist(_ guilds: [UInt64]) async throws {
        guard !guilds.isEmpty else { return }
        var pipeline = RedisPipeline()
        pipeline.append(["SREM", keys.threadGuilds] + guilds.map(String.init))
        for guild in guilds { pipeline.append("EXISTS", keys.threads(in: GuildID(guild))) }
        let replies = try await redis.execute(pipeline)
        _ = try replies[0].orThrow()
        let back = zip(guilds, replies.dropFirst()).filter { $0.1.int == 1 }.map { String($0.0) }
        guard !back.isEmpty else { return }
        var again = RedisPipeline()
        again.append(["SADD", keys.threadGuilds] + back)
        _ = try await redis.execute(again)[0].orThrow()
    }

    /// A HGETALL reply: thread → channel, both snowflakes; nil for anything else (an error reply, a
    /// field or value Kamii did not write).
    static func parents(_ reply: RedisValue) -> [UInt64: UInt64]? {
        guard case .array(let fields) = reply, fields.count % 2 == 0 else { return reply == .null ? [:] : nil }
        var parents: [UInt64: UInt64] = [:]
        parents.reserveCapacity(fields.count / 2)
        for index in stride(from: 0, to: fields.count, by: 2) {
            guard let thread = fields[index].string.flatMap(UInt64.init), let parent = fields[index + 1].string.flatMap(UInt64.init),
                  thread != 0, parent != 0
            else { return nil }
            parents[thread] = parent
        }
        return parents
    }
}
