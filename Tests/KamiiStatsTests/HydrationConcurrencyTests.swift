import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Guilds Redis lacks are loaded from SQL several at once (after Redis lost its data, every active
/// guild needs a load, and one after another held every flush for minutes); a load that fails
/// still ends the beginning of more, and the guilds not loaded wait for the next flush.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct HydrationConcurrencyTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let guilds = (1...40).map { GuildID(UInt64.random(in: 1...(1 << 30)) << 22 | UInt64($0)) }

    /// Counts the loads under way (each takes 20 ms) and the most at once; while `failing` is set,
    /// the first guild loaded fails.
    final class CountingHydrator: GuildHydrator, @unchecked Sendable {
        let state = Locked((active: 0, most: 0, loads: [GuildID]()))
        let failing = Locked(false)
        var loadsAtOnce = Int.max
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            let first = state.withLock {
                $0.active += 1
                $0.most = max($0.most, $0.active)
                $0.loads.append(guild)
                return $0.loads.count == 1
            }
            defer { state.withLock { $0.active -= 1 } }
            try await Task.sleep(for: .milliseconds(20))
            if first, failing.value { throw StoreError(.database, "the database is down") }
            return []
        }
    }

    func messages(_ buffer: StatsBuffer) {
        for guild in guilds { buffer.record(guild: guild.rawValue) { $0.countMessage(by: 7) } }
    }

    @Test func guildsAreLoadedSeveralAtOnce() async throws {
        let redis = try RedisTestServer.client()
        let hydrator = CountingHydrator()
        let buffer = StatsBuffer()
        var configuration = StatsFlusher.Configuration(keys: keys)
        configuration.hydrationConcurrency = 4
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: configuration, hydrator: hydrator)
        messages(buffer)
        #expect(await flusher.flush())
        #expect(await flusher.totals.hydrations == guilds.count)
        let state = hydrator.state.value
        #expect((2...4).contains(state.most), "\(state.most) loads at once")
        #expect(Set(state.loads) == Set(guilds) && state.loads.count == guilds.count, "each guild loaded once")
        let reader = StatsReader(redis: redis, keys: keys)
        for guild in guilds { #expect(try await reader.member(UserID(7), in: guild)?.messages == 1) }
        await redis.close()
    }

    /// No more loads at once than the hydrator's store has connections for.
    @Test func loadsAtOnceStayWithinTheStoresConnections() async throws {
        let redis = try RedisTestServer.client()
        let hydrator = CountingHydrator()
        hydrator.loadsAtOnce = 2
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: hydrator)
        messages(buffer)
        #expect(await flusher.flush())
        #expect(await flusher.totals.hydrations == guilds.count)
        #expect(hydrator.state.value.most == 2)
        await redis.close()
    }

    @Test func aFailedLoadEndsTheBeginningOfMore() async throws {
        let redis = try RedisTestServer.client()
        let hydrator = CountingHydrator()
        let buffer = StatsBuffer()
        var configuration = StatsFlusher.Configuration(keys: keys, hydrationBackoff: .milliseconds(50), hydrationBackoffLimit: .milliseconds(50))
        configuration.hydrationConcurrency = 4
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: configuration, hydrator: hydrator)
        hydrator.failing.withLock { $0 = true }
        messages(buffer)
        #expect(await !flusher.flush(), "guilds wait to be loaded")
        let begun = hydrator.state.value.loads.count
        // The first four begin together; the first fails, and at most three more begin while the
        // others end: nothing like all forty.
        #expect(begun < 4 + 4, "\(begun) loads begun")
        #expect(await flusher.totals.hydrations == begun - 1)

        hydrator.failing.withLock { $0 = false }
        try await Task.sleep(for: .milliseconds(100))
        #expect(await flusher.flush(), "the rest once the store answers again")
        #expect(await flusher.totals.hydrations == guilds.count)
        let reader = StatsReader(redis: redis, keys: keys)
        for guild in guilds { #expect(try await reader.member(UserID(7), in: guild)?.messages == 1) }
        await redis.close()
    }
}
