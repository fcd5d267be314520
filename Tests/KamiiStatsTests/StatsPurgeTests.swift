import DiscordModels
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// A privacy purge that Redis could not carry out whole says so. Against redis-server.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct StatsPurgeTests {
    @Test func aGuildPurgeWhoseTransactionFailedInsideIsAnError() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
        try await redis.send("HSET", keys.members(in: guild), "77", "a record")
        // Not a hash: the script remembering the deletion fails inside MULTI/EXEC.
        try await redis.send("SET", keys.deletions(in: guild), "not a hash")
        await #expect(throws: (any Error).self) { try await StatsPurge(redis: redis, keys: keys).purge(guild) }
        _ = try await redis.send("DEL", keys.members(in: guild), keys.deletions(in: guild))
        await redis.close()
    }
}
