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

    /// Restores every stored map into `threads`; returns how many guilds and threads it read.
    /// Guilds listed whose map is gone (emptied, purged) are taken off the list.
    @discardableResult
    public func load(into threads: ThreadParents) async throws -> (guilds: Int, threads: Int) {
        var cursor = "0"
        var loaded = (guilds: 0, threads: 0)
        var gone: [UInt64] = []
        repeat {
            let reply = try await redis.send("SSCAN", keys.threadGuilds, cursor, "COUNT", "1000").array ?? []
            guard reply.count == 2, let next = reply[0].string, let members = reply[1].array else {
                throw RedisError.protocolViolation("SSCAN answered \(reply)")
            }
            cursor = next
            let guilds = members.compactMap { $0.string.flatMap(UInt64.init) }
            guard !guilds.isEmpty else { continue }
            var pipeline = RedisPipeline()
            for guild in guilds { pipeline.append("HGETALL", keys.threads(in: GuildID(guild))) }
            for (guild, map) in zip(guilds, try await redis.execute(pipeline)) {
                let parents = try Self.parents(try map.orThrow(), of: guild)
                if parents.isEmpty {
                    gone.append(guild)
                    continue
                }
                threads.restore(parents, of: GuildID(guild))
                loaded.guilds += 1
                loaded.threads += parents.count
            }
        } while cursor != "0"
        if !gone.isEmpty {
            var pipeline = RedisPipeline()
            pipeline.append(["SREM", keys.threadGuilds] + gone.map(String.init))
            _ = try await redis.execute(pipeline)[0].orThrow()
        }
        return loaded
    }

    /// A HGETALL reply: thread → channel, both snowflakes (anything else is not what Kamii wrote).
    static func parents(_ reply: RedisValue, of guild: UInt64) throws -> [UInt64: UInt64] {
        let fields = reply.array ?? []
        var parents: [UInt64: UInt64] = [:]
        parents.reserveCapacity(fields.count / 2)
        var index = 0
        while index + 1 < fields.count {
            guard let thread = fields[index].string.flatMap(UInt64.init), let parent = fields[index + 1].string.flatMap(UInt64.init),
                  thread != 0, parent != 0
            else { throw RedisError.protocolViolation("guild \(guild)'s thread map holds \(fields[index]) → \(fields[index + 1])") }
            parents[thread] = parent
            index += 2
        }
        return parents
    }
}
