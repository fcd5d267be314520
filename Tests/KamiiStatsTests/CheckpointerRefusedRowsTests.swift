import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Rows SQL keeps because it holds a later read of them (Redis's clock went back, or two
/// checkpoints overlapped) are not forgotten: their members stay marked and are written once a
/// later read can replace them.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerRefusedRowsTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    @Test func aRowSQLKeepsStaysMarkedUntilItCanBeWritten() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        // A row from a read an hour ahead of Redis's clock.
        try await store.registerGuild(guild)
        let ahead = Int64(Date().timeIntervalSince1970 * 1_000) + 3_600_000
        try await store.upsertServerUsers([ServerUserStats(
            guild: guild, user: UserID(9), xp: 5, level: 0, karma: 0, trust: 50, messageCount: 1, xpMessages: 1, lastXPAt: nil,
            updatedAt: Date(), asOf: ahead)])
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for user: UInt64 in [9, 10] {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_735_689_600_000, xp: 40), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let first = await checkpointer.checkpoint()
        #expect(first.failures == 0 && first.members == 1 && first.rowsNotWritten == 1)
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 5)
        #expect(try await store.serverUser(UserID(10), in: guild)?.xp == 40)
        #expect(try await redis.send("SMEMBERS", keys.dirtyMembers(in: guild)) == .array([.bulk(Array("9".utf8))]))
        // Refused again while SQL's read is the later one; written once it is not.
        #expect(await checkpointer.checkpoint().rowsNotWritten == 1)
        try await store.deleteServerUsers([UserID(9)], in: guild)
        let last = await checkpointer.checkpoint()
        #expect(last.rowsNotWritten == 0 && last.members == 1)
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 40)
        #expect(try await redis.send("SCARD", keys.dirtyMembers(in: guild)).int == 0)
        await redis.close()
        try await store.close()
    }
}
