import DiscordModels
import Foundation
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A guild's rows go to SQL in parts (so that one long statement cannot outlast the checkpoint's
/// lock): every part is written, and what SQL refuses is counted part by part.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerPartsTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// Members 1…count with 10 × their ID in XP, marked dirty.
    private func mark(_ count: UInt64, _ redis: RedisClient) async throws {
        let records = (1...count).map { (String($0), "\($0 * 10):0:1:1:1735689600000:0:::::") }
        try await keys.markDirty(Dictionary(uniqueKeysWithValues: records), in: guild, redis)
    }

    @Test(arguments: CheckpointerTests.engines)
    func aGuildTheStoreHasNotMetIsWrittenWholeInParts(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await mark(7, redis)
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        await checkpointer.setRowsPerUpsert(3)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members == 7, "\(report)")
        for user in UInt64(1)...7 {
            #expect(try await store.serverUser(UserID(user), in: guild)?.xp == Int64(user * 10), "member \(user)")
        }
        await redis.close()
        try await store.close()
    }

    @Test(arguments: CheckpointerTests.engines)
    func aRowSQLHoldsFromALaterReadIsKeptAndCountedInItsPart(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        try await store.registerGuild(guild)
        // Member 6 (the second part of three) was written from a read in the year 2100.
        try await store.upsertServerUsers([ServerUserStats(
            guild: guild, user: UserID(6), xp: 999, level: 3, karma: 0, trust: 50, messageCount: 1, xpMessages: 1, lastXPAt: nil,
            updatedAt: Date(), asOf: 4_102_444_800_000)])
        let redis = try RedisTestServer.client()
        try await mark(7, redis)
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        await checkpointer.setRowsPerUpsert(3)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.rowsNotWritten == 1 && report.members == 6, "\(report)")
        #expect(await checkpointer.totals.rowsNotWritten == 1)
        #expect(try await store.serverUser(UserID(6), in: guild)?.xp == 999)
        for user in [UInt64(1), 2, 3, 4, 5, 7] {
            #expect(try await store.serverUser(UserID(user), in: guild)?.xp == Int64(user * 10), "member \(user)")
        }
        await redis.close()
        try await store.close()
    }
}
