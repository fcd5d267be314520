import KamiiRedis
import KamiiTestSupport
import Testing

/// MULTI/EXEC through `executeTransaction`: a command that fails inside the transaction is an
/// error, though EXEC itself succeeded and ran the others. Against redis-server.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct RedisTransactionTests {
    @Test func aCommandFailingInsideTheTransactionIsAnError() async throws {
        let redis = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("transaction")
        var failing = RedisPipeline()
        failing.append("MULTI")
        failing.append("SET", key, "a string")
        failing.append("HSET", key, "field", "value")  // WRONGTYPE, at EXEC
        failing.append("EXEC")
        await #expect(throws: (any Error).self) { try await redis.executeTransaction(failing) }
        #expect(try await redis.send("GET", key).string == "a string", "EXEC ran the other command")

        var fine = RedisPipeline()
        fine.append("MULTI")
        fine.append("SET", key, "again")
        fine.append("EXEC")
        try await redis.executeTransaction(fine)
        _ = try await redis.send("DEL", key)
        await redis.close()
    }
}
