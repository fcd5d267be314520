import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A guild loaded from SQL a page at a time: every page goes in, and members deleted from SQL while
/// the later pages were read are taken out again. Against redis-server, on both engines.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct GuildLoadPagesTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// The store's pages, counted; after the page `deleteAfter`, `deleting` leave SQL.
    final class PagedStore: GuildHydrator, Sendable {
        let store: KamiiStore
        let deleteAfter: Int, deleting: [UserID]
        let pages = Locked(0)
        init(store: KamiiStore, deleteAfter: Int, deleting: [UserID]) {
            (self.store, self.deleteAfter, self.deleting) = (store, deleteAfter, deleting)
        }
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            let page = try await store.serverUsers(in: guild, after: after, limit: limit)
            if pages.withLock({ $0 += 1; return $0 }) == deleteAfter {
                try await store.deleteServerUsers(deleting, in: guild)
            }
            return page
        }
    }

    @Test(arguments: CheckpointerTests.engines)
    func aGuildLoadsPageByPageAndLosesWhatSQLLostMeanwhile(_ engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        try await store.registerGuild(guild)
        // 23 members over pages of 5: the last page short. Three leave SQL once page 2 is read —
        // one already written (page 1), one of the page just read, and the last of all.
        let users = (1...23).map { UserID(UInt64($0) << 22) }
        try await store.upsertServerUsers(users.enumerated().map { index, user in
            ServerUserStats(guild: guild, user: user, xp: Int64(100 + index), level: 1, karma: 0, trust: 50, messageCount: 3, updatedAt: Date())
        })
        let deleted = [users[1], users[7], users[22]]
        let hydrator = PagedStore(store: store, deleteAfter: 2, deleting: deleted)
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: users[0].rawValue) }
        var configuration = StatsFlusher.Configuration(keys: keys)
        configuration.loadPageRows = 5
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: configuration, hydrator: hydrator)
        #expect(await flusher.flush())

        let loaded = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(Set(loaded.keys) == Set(users).subtracting(deleted), "every page in, the three deleted out")
        #expect(loaded[users[12]]?.xp == 112)
        #expect(loaded[users[0]]?.messages == 4, "the buffered message on top of the loaded three")
        // 5 pages to write (the fifth short), then pages again to check against SQL.
        #expect(hydrator.pages.value >= 5 + 4)
        await redis.close()
        try await store.close()
    }
}
