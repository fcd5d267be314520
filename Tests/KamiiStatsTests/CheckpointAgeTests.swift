import DiscordModels
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// How far SQL's copy may be behind Redis (`kamii_checkpoint_age_seconds`): measured from the start
/// of the last checkpoint that failed nothing.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointAgeTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    @Test func theAgeRunsFromTheLastCheckpointThatFailedNothing() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        try await Task.sleep(for: .milliseconds(50))
        #expect(await checkpointer.lastCleanCheckpointBegan == nil)
        #expect(await checkpointer.age() >= .milliseconds(50), "from the checkpointer's start")

        let before = ContinuousClock.now
        #expect(await checkpointer.checkpoint().failures == 0)
        let clean = try #require(await checkpointer.lastCleanCheckpointBegan)
        #expect(clean >= before)

        // A guild whose dirty set is not a set fails its checkpoint (and is dropped from the list).
        let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        try await redis.send("SET", keys.dirtyMembers(in: guild), "not a set")
        #expect(await checkpointer.checkpoint().failures == 1)
        let now = ContinuousClock.now
        #expect(await checkpointer.age(now: now) == now - clean, "still from the clean one")

        #expect(await checkpointer.checkpoint().failures == 0)
        #expect(try #require(await checkpointer.lastCleanCheckpointBegan) > clean)
        await redis.close()
        try await store.close()
    }
}
