import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Synchronization
import Testing

/// Guilds' thread → channel maps kept in Redis with the stats, as far as the shard positions they
/// vouch for, and read back by a starting process (which gets no GUILD_CREATE when it resumes).
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct ThreadMapFlushTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let guilds = (0..<4).map { _ in UInt64.random(in: 1...(1 << 40)) << 22 }

    /// Records `change` as part of dispatch `sequence` of shard 0's session 1.
    func record(_ change: ThreadMapChange, of guild: UInt64, at sequence: Int, in buffer: StatsBuffer) {
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: sequence)) { buffer.record(change, of: guild) }
    }

    func stored(_ guild: UInt64, _ redis: RedisClient) async throws -> [String: String] {
        let fields = try await redis.send("HGETALL", keys.threads(in: GuildID(guild))).array ?? []
        return Dictionary(uniqueKeysWithValues: stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0].string ?? "", fields[$0 + 1].string ?? "") })
    }

    func listed(_ redis: RedisClient) async throws -> Set<UInt64> {
        Set((try await redis.send("SMEMBERS", keys.threadGuilds).array ?? []).compactMap { $0.string.flatMap(UInt64.init) })
    }

    @Test(arguments: [100, 1])
    func mapsAreWrittenWithTheirPositionsAndReadBack(guildsPerCall: Int) async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let durable = Mutex<Int?>(nil)
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: guildsPerCall),
            onDurable: { positions in durable.withLock { $0 = positions[0]?.sequence } })
        let (a, b, c, d) = (guilds[0], guilds[1], guilds[2], guilds[3])
        record(ThreadMapChange(parents: [10: 100, 11: 101]), of: a, at: 1, in: buffer)
        record(ThreadMapChange(replacesAll: true, parents: [20: 200]), of: b, at: 2, in: buffer)
        record(ThreadMapChange(parents: [30: 300]), of: c, at: 3, in: buffer)
        #expect(await flusher.flush(), "a flush of thread maps alone")
        #expect(durable.withLock { $0 } == 3, "the positions they reach are claimed once they are in")
        #expect(try await stored(a, redis) == ["10": "100", "11": "101"])
        #expect(try await stored(b, redis) == ["20": "200"])
        #expect(try await listed(redis) == [a, b, c])

        // A thread archived, a guild listed again (GUILD_CREATE), a guild left, one never stored.
        record(ThreadMapChange(parents: [10: ThreadMapChange.forgotten]), of: a, at: 4, in: buffer)
        record(ThreadMapChange(replacesAll: true, parents: [21: 201]), of: b, at: 5, in: buffer)
        record(ThreadMapChange(replacesAll: true), of: c, at: 6, in: buffer)
        _ = try await redis.send("SADD", keys.threadGuilds, String(d))
        #expect(await flusher.flush())
        #expect(durable.withLock { $0 } == 6)
        #expect(try await stored(a, redis) == ["11": "101"])
        #expect(try await stored(b, redis) == ["21": "201"], "replaced, not added to")
        #expect(try await redis.send("EXISTS", keys.threads(in: GuildID(c))).int == 0)
        #expect(try await listed(redis) == [a, b, d], "a guild left is taken off the list")

        let restarted = ThreadParents()
        let loaded = try await StoredThreadParents(redis: redis, keys: keys).load(into: restarted)
        #expect(loaded.guilds == 2 && loaded.threads == 2 && loaded.unreadable.isEmpty)
        #expect(restarted.threads(of: GuildID(a)) == [11: 101] && restarted.threads(of: GuildID(b)) == [21: 201])
        #expect(try await listed(redis) == [a, b], "a listed guild without a map is taken off at the read")
        // A process of a cluster reads only its own shards' guilds.
        let shardOfA = Int((a >> 22) % 64)
        let own = ThreadParents()
        let ownLoaded = try await StoredThreadParents(redis: redis, keys: keys).load(into: own, shards: [shardOfA], of: 64)
        #expect(own.threads(of: GuildID(a)) == [11: 101])
        #expect(ownLoaded.threads == (Int((b >> 22) % 64) == shardOfA ? 2 : 1))
        await redis.close()
    }

    @Test func aKeyKamiiDidNotWriteIsLeftAloneAndTheRestIsWritten() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        _ = try await redis.send("SET", keys.threads(in: GuildID(guilds[0])), "not a hash")
        record(ThreadMapChange(parents: [10: 100]), of: guilds[0], at: 1, in: buffer)
        record(ThreadMapChange(parents: [20: 200]), of: guilds[1], at: 2, in: buffer)
        #expect(await flusher.flush(), "given up on, not retried for ever")
        #expect(try await redis.send("GET", keys.threads(in: GuildID(guilds[0]))).string == "not a hash")
        #expect(try await stored(guilds[1], redis) == ["20": "200"])
        // Read back, a key that is not a map, or a map of anything but snowflakes, is skipped and
        // named — not threads made up, and not every other guild's map lost with it.
        _ = try await redis.send("SADD", keys.threadGuilds, String(guilds[0]), String(guilds[2]))
        _ = try await redis.send("HSET", keys.threads(in: GuildID(guilds[2])), "5", "x")
        let restarted = ThreadParents()
        let loaded = try await StoredThreadParents(redis: redis, keys: keys).load(into: restarted)
        #expect(Set(loaded.unreadable) == [guilds[0], guilds[2]])
        #expect(loaded.guilds == 1 && restarted.threads(of: GuildID(guilds[1])) == [20: 200])
        #expect(try await listed(redis) == [guilds[0], guilds[1], guilds[2]], "left as they are")
        await redis.close()
    }

    /// Thread maps in flushes of stats too, with and without a transaction (without one, a round
    /// trip per guild here: a backlog), against Redis: everything lands.
    @Test(arguments: [100, 1])
    func mapsAndStatsOfOneFlushAllLand(guildsPerCall: Int) async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: guildsPerCall, maxArgumentsPerRoundTrip: 10))
        for (index, guild) in guilds.enumerated() {
            buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: index + 1)) {
                buffer.record(guild: guild) { batch in
                    batch.countMessage(by: 7)
                    batch.grant(.init(user: 7, messageTime: 1_735_689_600_000, xp: 20), cooldownMilliseconds: 60_000)
                    batch.giveKarma(to: 8)
                }
                buffer.record(ThreadMapChange(parents: [UInt64(index) + 10: 100]), of: guild)
            }
        }
        #expect(await flusher.flush())
        for (index, guild) in guilds.enumerated() {
            #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(7), in: GuildID(guild))?.xp == 20)
            #expect(try await stored(guild, redis) == ["\(index + 10)": "100"])
        }
        #expect(try await listed(redis) == Set(guilds))
        await redis.close()
    }

    /// Built and settled without a server: a backlog in several round trips carries the thread maps
    /// in its last one only (the one that commits the sessions), and they count as written only
    /// once its replies are in — in a transaction (guilds whose batches began recording at
    /// different times go in calls of their own) and without one (Redis Cluster).
    @Test(arguments: [100, 1])
    func onlyTheLastRoundTripOfABacklogCarriesTheMaps(guildsPerCall: Int) throws {
        var batches: [UInt64: GuildStatsBatch] = [:]
        for (index, guild) in guilds.enumerated() {
            var batch = GuildStatsBatch()
            batch.countMessage(by: 7)
            batch.recordedAfter = UInt64(index)
            batches[guild] = batch
        }
        var flush = PendingFlush(
            id: "p-1", batches: batches, keys: keys, guildsPerCall: guildsPerCall, threads: [guilds[0]: ThreadMapChange(parents: [10: 100])])
        let mapKey = keys.threads(in: GuildID(guilds[0]))
        var carried: [Bool] = []
        while !flush.batches.isEmpty && carried.count < 10 {
            // Room for one guild (its header and one member, whose changes weigh an argument) a round trip, not two.
            let perGuild = StatsFlushScript.guildHeaderArguments + StatsFlushScript.positionArguments + 2
            let pipeline = flush.pipeline(scriptHash: "sha", maxArguments: 2 * perGuild - 1, journal: false)
            carried.append(String(decoding: pipeline.buffer.readableBytesView, as: UTF8.self).contains(mapKey))
            #expect(!flush.threadsWritten)
            // The script call's reply first (applied, no level-ups), then the rest's.
            let transaction = guildsPerCall > 1
            let commands = pipeline.count - (transaction ? 2 : 0)
            let results = [RedisValue.array([.integer(1), .integer(0)])] + Array(repeating: .integer(1), count: commands - 1)
            _ = flush.settle(transaction ? [.simple("OK")] + Array(repeating: .simple("QUEUED"), count: commands) + [.array(results)] : results)
        }
        #expect(carried == [false, false, false, true])
        #expect(flush.threadsWritten)
    }

    /// Redis refusing the writes (out of memory) or gone: the changes wait, and so do the positions.
    @Test func refusedWritesWaitWithTheirPositions() async throws {
        let server = try RedisProcess()
        let redis = RedisClient(configuration: server.configuration)
        let buffer = StatsBuffer()
        let durable = Mutex<Int?>(nil)
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys),
            onDurable: { positions in durable.withLock { $0 = positions[0]?.sequence } })
        _ = try await redis.send("CONFIG", "SET", "maxmemory", "1")
        record(ThreadMapChange(parents: [10: 100]), of: guilds[0], at: 1, in: buffer)
        #expect(await !flusher.flush(), "OOM")
        #expect(durable.withLock { $0 } == nil)
        server.stop()
        record(ThreadMapChange(parents: [11: 101]), of: guilds[0], at: 2, in: buffer)
        #expect(await !flusher.flush(), "down")
        try server.start()
        _ = try await redis.send("CONFIG", "SET", "maxmemory", "0")
        #expect(await flusher.drain(deadline: .seconds(10)))
        #expect(durable.withLock { $0 } == 2)
        #expect(try await stored(guilds[0], redis) == ["10": "100", "11": "101"])
        await redis.close()
    }
}
