import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A member id no Discord object has — 0, or past 2^63 − 1, which SQL's BIGINT cannot hold — in a
/// guild's changes (a hostile payload, a damaged journal entry): SQL refuses a whole upsert for one
/// such row, so it is left out and counted, and the guild's other members reach SQL.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerUnstorableIDTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    @Test func anIDSQLCannotHoldDoesNotHoldUpItsGuild() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for (user, xp) in [(UInt64(9), 40), (0, 20), (UInt64(Int64.max) + 1, 15)] {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_735_689_600_000, xp: xp), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
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
}
