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

    /// The store's pages, counted; after the page `at`, `then` runs (a deletion, a lost lock).
    final class PagedStore: GuildHydrator, Sendable {
        let store: KamiiStore
        let at: Int, then: @Sendable () async throws -> Void
        let pages = Locked(0)
        init(store: KamiiStore, at: Int, then: @escaping @Sendable () async throws -> Void) {
            (self.store, self.at, self.then) = (store, at, then)
        }
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            let page = try await store.serverUsers(in: guild, after: after, limit: limit)
            if pages.withLock({ $0 += 1; return $0 }) == at { try await then() }
            return page
        }
    }

    /// A flusher of one message of `users[0]`, loading a page of 5 rows at a time.
    private func flusher(_ redis: RedisClient, _ hydrator: any GuildHydrator, _ user: UserID) -> StatsFlusher {
        let buffer = StatsBuffer()
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: user.rawValue) }
        var configuration = StatsFlusher.Configuration(keys: keys)
        configuration.loadPageRows = 5
        return StatsFlusher(buffer: buffer, redis: redis, configuration: configuration, hydrator: hydrator)
    }

    /// 23 members in SQL (pages of 5: the last short).
    private func checkpointed(_ store: KamiiStore) async throws -> [UserID] {
        try await store.registerGuild(guild)
        let users = (1...23).map { UserID(UInt64($0) << 22) }
        try await store.upsertServerUsers(users.enumerated().map { index, user in
            ServerUserStats(guild: guild, user: user, xp: Int64(100 + index), level: 1, karma: 0, trust: 50, messageCount: 3, updatedAt: Date())
        })
        return users
    }

    @Test(arguments: CheckpointerTests.engines)
    func aGuildLoadsPageByPageAndLosesWhatSQLLostMeanwhile(_ engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        // Three leave SQL once page 2 is read — one already written (page 1), one of the page just
        // read, and the last of all.
        let users = try await checkpointed(store)
        let deleted = [users[1], users[7], users[22]]
        let hydrator = PagedStore(store: store, at: 2) { try await store.deleteServerUsers(deleted, in: self.guild) }
        let redis = try RedisTestServer.client()
        #expect(await flusher(redis, hydrator, users[0]).flush())

        let loaded = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(Set(loaded.keys) == Set(users).subtracting(deleted), "every page in, the three deleted out")
        #expect(loaded[users[12]]?.xp == 112)
        #expect(loaded[users[0]]?.messages == 4, "the buffered message on top of the loaded three")
        // 5 pages to write (the fifth short), then pages again to check against SQL.
        #expect(hydrator.pages.value >= 5 + 4)
        await redis.close()
        try await store.close()
    }

    /// Checking a guild of many pages against SQL renews the load's lock page by page; a lock
    /// taken over meanwhile (it ran out, another process loads) stops this load before it marks
    /// the guild loaded or takes anyone out.
    @Test func aLoadWhoseLockIsTakenOverWhileCheckingStops() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let users = try await checkpointed(store)
        let redis = try RedisTestServer.client()
        let lock = keys.loadLock(in: guild)
        // Pages 1–5 are written; page 6 is the check's first: then another process has the lock.
        let hydrator = PagedStore(store: store, at: 6) { try await redis.send("SET", lock, "another-process", "PX", "60000") }
        let flushed = await flusher(redis, hydrator, users[0]).flush()
        #expect(!flushed, "the guild waits: another process is loading it")
        #expect(try await redis.send("HEXISTS", keys.members(in: guild), StatsKeys.batchField).int == 0, "not marked loaded")
        #expect(hydrator.pages.value == 6, "the check stopped at the first renewal")
        #expect(try await redis.send("GET", lock).string == "another-process")
        _ = try await redis.send("DEL", lock, keys.members(in: guild))
        await redis.close()
        try await store.close()
    }
}
