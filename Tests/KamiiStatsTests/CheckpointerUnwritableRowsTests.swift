import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Rows the checkpointer cannot write as they are: member ids SQL cannot hold, and rows SQL keeps
/// because it holds a later read of them. Neither holds up its guild, and neither is forgotten.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerUnwritableRowsTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// A message and its grant of `xp` for each user, flushed to Redis (the journal names them).
    func flush(_ grants: [(user: UInt64, xp: Int)], _ redis: RedisClient) async -> Bool {
        let buffer = StatsBuffer()
        for (user, xp) in grants {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_735_689_600_000, xp: xp), cooldownMilliseconds: 60_000)
            }
        }
        return await StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys)).flush()
    }

    /// A member id no Discord object has — 0, or past 2^63 − 1, which SQL's BIGINT cannot hold — in
    /// a guild's changes (a hostile payload, a damaged journal entry): SQL refuses a whole upsert for
    /// one such row, so it is left out and counted, and the guild's other members reach SQL.
    @Test func anIDSQLCannotHoldDoesNotHoldUpItsGuild() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        #expect(await flush([(9, 40), (0, 20), (UInt64(Int64.max) + 1, 15)], redis))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members == 1 && report.unstorableMembers == 2)
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 40)
        // Nothing is left to retry: the journal entry is done with, and the next checkpoint is empty.
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0)
        let next = await checkpointer.checkpoint()
        #expect(next.failures == 0 && next.guilds == 0)
        #expect(await checkpointer.totals.unstorableMembers == 2)
        await redis.close()
        try await store.close()
    }

    /// A row SQL keeps because it holds a later read (Redis's clock went back, or two checkpoints
    /// overlapped): its member stays marked and is written once a later read can replace it.
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
        #expect(await flush([(9, 40), (10, 40)], redis))
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

    /// A record Kamii cannot read (damaged, or written by something else) is not taken for a
    /// deletion, though one is remembered: SQL keeps the member's last good row, the member stays
    /// marked and counted, and is copied once the record is fixed.
    @Test func anUnreadableRecordKeepsItsRowAndItsMark() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        #expect(await flush([(9, 40), (10, 40)], redis))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        #expect(await checkpointer.checkpoint().members == 2)
        try await redis.send("HSET", keys.members(in: guild), "9", "not a record")
        try await redis.send("HSET", keys.deletions(in: guild), "9", String(Int64(Date().timeIntervalSince1970 * 1_000)))
        try await redis.send("SADD", keys.dirtyMembers(in: guild), "9", "10")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members == 1 && report.unreadableRecords == 1, "\(report)")
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 40, "the last good row stays")
        #expect(try await redis.send("SMEMBERS", keys.dirtyMembers(in: guild)) == .array([.bulk(Array("9".utf8))]))
        var repair = RedisPipeline()
        repair.beginCommand(arguments: 4)
        for argument in ["HSET", keys.members(in: guild), "9"] { repair.appendArgument(argument) }
        repair.appendArgument(bytes: MemberRecord(xp: 55, messages: 2).stored)
        _ = try await redis.execute(repair).first?.orThrow()
        // The deletion's memory gone too: a record read within 5 s of a deletion remembered is
        // held back (`aRowReadBeforeADeletionGoesThoughTheMemberPostedAgain`).
        try await redis.send("HDEL", keys.deletions(in: guild), "9")
        let fixed = await checkpointer.checkpoint()
        #expect(fixed.members == 1 && fixed.unreadableRecords == 0, "\(fixed)")
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 55)
        #expect(await checkpointer.totals.unreadableRecords == 1)
        await redis.close()
        try await store.close()
    }
}
