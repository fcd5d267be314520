import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Two processes loading the same guild from SQL at once (a rolling restart, a shard moving): one
/// at a time, and a loader that lost its turn writes nothing over what the other's flushes added.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct GuildLoadLockTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let member = UInt64.random(in: 1...(1 << 60))

    /// A process's flusher with one message of `member` buffered.
    private func process(_ redis: RedisClient, _ hydrator: any GuildHydrator) -> StatsFlusher {
        let buffer = StatsBuffer()
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: member) }
        return StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: hydrator)
    }

    private func store() async throws -> (KamiiStore, () -> Void) {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        try await store.registerGuild(guild)
        try await store.upsertServerUsers([ServerUserStats(guild: guild, user: UserID(member), xp: 100, level: 1, karma: 0, trust: 50, messageCount: 9, updatedAt: Date())])
        return (store, cleanup)
    }

    /// Two processes with a message each: the first's flush has started, and its load of the guild
    /// holds right after reading SQL until `held.release` opens.
    private func firstLoadHeld(
        _ store: KamiiStore, _ redis: RedisClient
    ) async -> (first: StatsFlusher, flush: Task<Bool, Never>, held: PrivacyDeletionTests.HeldHydrator, second: StatsFlusher) {
        let held = PrivacyDeletionTests.HeldHydrator(store: store)
        let first = process(redis, held), second = process(redis, StoreHydrator(store: store))
        let flush = Task { await first.flush() }
        await held.read.wait()
        return (first, flush, held, second)
    }

    private func messages(_ redis: RedisClient) async throws -> Int? {
        try await StatsReader(redis: redis, keys: keys).member(UserID(member), in: guild)?.messages
    }

    /// While one process loads the guild, another's flush leaves the guild waiting rather than load
    /// it too; once the first is done, the second's next flush adds to what it loaded.
    @Test func aSecondLoaderWaitsForTheFirst() async throws {
        let (store, cleanup) = try await store()
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let (_, firstFlush, held, second) = await firstLoadHeld(store, redis)
        defer { held.release.open() }
        #expect(await second.flush() == false, "the guild waits: another process is loading it")
        #expect(await second.totals.hydrations == 0)
        #expect(try await messages(redis) == nil, "nothing written by the second")
        held.release.open()
        #expect(await firstFlush.value)
        #expect(try await messages(redis) == 10)
        #expect(await second.flush())
        #expect(try await messages(redis) == 11, "the second's message added to the first's load")
        #expect(try await redis.send("EXISTS", keys.loadLock(in: guild)).int == 0, "the lock is released")
        await redis.close()
        try await store.close()
    }

    /// A loader that read SQL, then lost its lock (it ran out: the process hung), finds the guild
    /// loaded by another, whose flush added to it: it writes none of its older rows over that, and
    /// its own message is added on top. (Before the lock the older rows went back over the
    /// other's flush: 10 messages instead of 11.)
    @Test func aLoaderThatLostItsTurnWritesNothingOverTheOthersFlushes() async throws {
        let (store, cleanup) = try await store()
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let (first, firstFlush, held, second) = await firstLoadHeld(store, redis)
        defer { held.release.open() }
        try await redis.send("DEL", keys.loadLock(in: guild))
        #expect(await second.flush())
        #expect(try await messages(redis) == 10)
        held.release.open()
        #expect(await firstFlush.value)
        #expect(try await messages(redis) == 11)
        #expect(await first.totals.hydrations == 0)
        #expect(await second.totals.hydrations == 1)
        await redis.close()
        try await store.close()
    }

    /// A loader that lost its turn while checking SQL for members deleted meanwhile takes none of
    /// them out: the guild is the other loader's now, and the member's record there is new (their
    /// messages after the deletion). (Taken out unguarded before, the record was lost.)
    @Test func aLoaderThatLostItsTurnTakesOutNothing() async throws {
        /// The member's row on the first read; none on the second, which waits for `release`.
        final class DeletedWhileLoading: GuildHydrator {
            let row: ServerUserStats
            let checking = Gate(), release = Gate()
            let calls = Locked(0)
            init(_ row: ServerUserStats) { self.row = row }
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
                guard calls.withLock({ $0 += 1; return $0 }) == 2 else { return [row] }
                checking.open()
                await release.wait()
                return []
            }
        }
        struct Empty: GuildHydrator {
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] { [] }
        }
        let redis = try RedisTestServer.client()
        let held = DeletedWhileLoading(ServerUserStats(
            guild: guild, user: UserID(member), xp: 100, level: 1, karma: 0, trust: 50, messageCount: 9, updatedAt: Date()))
        let first = process(redis, held)
        async let firstFlushed = first.flush()
        defer { held.release.open() }
        await held.checking.wait()
        try await redis.send("DEL", keys.loadLock(in: guild))
        #expect(await process(redis, Empty()).flush())
        #expect(try await messages(redis) == 1, "the member starts again after their deletion")
        held.release.open()
        #expect(await firstFlushed)
        #expect(try await messages(redis) == 2, "not taken out by the loader that lost its turn")
        await redis.close()
    }

    /// A load that fails (the store gone) releases its lock: the next try need not wait for it to
    /// run out.
    @Test func aFailedLoadReleasesItsLock() async throws {
        struct Broken: GuildHydrator {
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] { throw StoreError(.database, "the database is down") }
        }
        let redis = try RedisTestServer.client()
        #expect(await process(redis, Broken()).flush() == false)
        #expect(try await redis.send("EXISTS", keys.loadLock(in: guild)).int == 0)
        await redis.close()
    }
}
