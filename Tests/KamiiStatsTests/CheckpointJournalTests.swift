import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// The change journal's walk while SQL is away and after: what it names is kept in entries of
/// bounded size, however many checkpoints fail, and copied once SQL is back.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointJournalTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// Eight flushes of six members each: eight journal entries naming members 1 to 48.
    func flushEightTimes(_ redis: RedisClient) async throws {
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for flush in 0..<8 {
            for slot in 1...6 {
                let user = UInt64(flush * 6 + slot)
                buffer.record(guild: guild.rawValue) { batch in
                    batch.countMessage(by: user)
                    batch.grant(.init(user: user, messageTime: 1_735_689_600_000 + user * 1_000, xp: 10), cooldownMilliseconds: 60_000)
                }
            }
            #expect(await flusher.flush())
        }
        #expect(try await redis.send("HLEN", keys.changeJournal).int == 8)
    }

    /// The journal's entries: how many members each names, and every member named.
    func journal(_ redis: RedisClient) async throws -> (sizes: [Int], members: Set<UInt64>) {
        let values = try await redis.send("HVALS", keys.changeJournal).array ?? []
        var members: [UInt64: Set<UInt64>] = [:]
        var sizes: [Int] = []
        for value in values {
            let bytes = try #require(value.bytes)
            sizes.append(bytes.count / ChangeJournal.pairSize)
            #expect(ChangeJournal.read(bytes, into: &members))
        }
        #expect(members.keys.allSatisfy { $0 == guild.rawValue })
        return (sizes, members[guild.rawValue] ?? [])
    }

    /// SQL away for several checkpoints: each part's failed members go back as retry entries of a
    /// part's size at most (here 10 members), not merged attempt after attempt into one naming
    /// everything the outage changed; nothing is forgotten, and all of it is copied once SQL is back.
    @Test func retryEntriesStayWithinAPartWhileSQLIsAway() async throws {
        let redis = try RedisTestServer.client()
        try await flushEightTimes(redis)
        let (away, cleanupAway) = try await CheckpointerTests.store("sqlite")
        defer { cleanupAway() }
        try await away.close()
        let failing = Checkpointer(store: away, redis: redis, keys: keys)
        await failing.setPartSizes(journalMembers: 10)
        for attempt in 1...4 {
            let report = await failing.checkpoint()
            #expect(report.failures >= 1 && report.members == 0, "attempt \(attempt)")
            // Each part ends at the entry that fills it (below 10 before it, 10 at most in it),
            // never every entry of a page merged into one.
            let parts = await failing.journalParts
            #expect(parts.allSatisfy { $0 < 10 + 10 } && parts.count > 1 && parts.reduce(0, +) == 48, "attempt \(attempt): \(parts)")
            let (sizes, members) = try await journal(redis)
            #expect(sizes.allSatisfy { $0 <= 10 }, "attempt \(attempt): \(sizes)")
            #expect(members == Set(1...48), "attempt \(attempt): nothing forgotten")
        }

        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        await checkpointer.setPartSizes(journalMembers: 10)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members == 48, "\(report)")
        #expect(try await store.serverUser(UserID(48), in: guild)?.xp == 10)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0)
        await redis.close()
        try await store.close()
    }

    /// The list of guilds with dirty sets broken (a key Kamii did not write) fails that part of
    /// the checkpoint only: the journal is still copied. A listed number no guild can have is
    /// removed rather than kept forever.
    @Test func aBrokenDirtyGuildListDoesNotStopTheJournal() async throws {
        let redis = try RedisTestServer.client()
        try await flushEightTimes(redis)
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        try await redis.send("SET", keys.dirtyGuilds, "not a set")
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 1 && report.members == 48, "\(report)")
        #expect(try await store.serverUser(UserID(1), in: guild)?.xp == 10)

        try await redis.send("DEL", keys.dirtyGuilds)
        try await redis.send("SADD", keys.dirtyGuilds, "1234567890123456789012345")
        #expect(await checkpointer.checkpoint().failures == 0)
        #expect(try await redis.send("EXISTS", keys.dirtyGuilds, keys.dirtyGuilds + ":checkpointing").int == 0)
        await redis.close()
        try await store.close()
    }

    /// A guild's dirty set far larger than one step (while the journal refuses entries, every
    /// member a flush changed is marked there) is read and copied a step at a time, and empties.
    @Test func aLargeDirtySetIsCopiedAStepAtATime() async throws {
        let redis = try RedisTestServer.client()
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let users = (1...3_000).map(String.init)
        var fill = RedisPipeline()
        fill.append(["HSET", keys.members(in: guild)] + users.flatMap { [$0, "50:0:3:1::0:::::"] })
        fill.append(["SADD", keys.dirtyMembers(in: guild)] + users)
        for reply in try await redis.execute(fill) { _ = try reply.orThrow() }
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        await checkpointer.setPartSizes(journalMembers: 250_000, dirtyMarks: 200)
        let steps = Locked(0)
        await checkpointer.setBeforeReleasingMarks { _ in steps.withLock { $0 += 1 } }
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members >= 3_000, "\(report)")
        #expect(steps.value > 1, "several steps")
        #expect(try await store.serverUsers(in: guild).count == 3_000)
        #expect(try await redis.send("EXISTS", keys.dirtyMembers(in: guild), keys.dirtyMembers(in: guild) + ":checkpointing").int == 0)
        #expect(try await redis.send("EXISTS", keys.dirtyGuilds, keys.dirtyGuilds + ":checkpointing").int == 0)
        await redis.close()
        try await store.close()
    }
}
