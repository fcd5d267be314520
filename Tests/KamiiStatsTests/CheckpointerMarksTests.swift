import DiscordModels
import Foundation
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// How the checkpointer takes and releases a guild's dirty marks, against redis-server and SQLite:
/// never more than it read, never a mark it cannot read.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerMarksTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// Writes member records (user → record text) into a guild's Redis hash and marks them (or
    /// `only` these) for the checkpointer, as a flush would.
    private func mark(_ records: [String: String], only: [String]? = nil, in guild: GuildID? = nil, _ redis: RedisClient) async throws {
        try await keys.markDirty(records, only: only, in: guild ?? self.guild, redis)
    }

    /// Makes `checkpointer` open `copied` once it has copied a guild's marked members, then wait
    /// for `release` before releasing their marks.
    private func hold(_ checkpointer: Checkpointer) async -> (copied: Gate, release: Gate) {
        let copied = Gate(), release = Gate()
        await checkpointer.setBeforeReleasingMarks { _ in
            copied.open()
            await release.wait()
        }
        return (copied, release)
    }

    /// Several processes share one Redis: while one checkpointer copies a guild's marked members,
    /// another's take may merge new marks into the same set. Releasing its own marks, the first
    /// leaves those (and the guild listed), so they are copied by the next checkpoint.
    @Test func marksAnotherCheckpointerMergedMeanwhileAreNotErased() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await mark(["7": "50:0:3:1::0:::::", "8": "70:0:4:1::0:::::"], only: ["7"], redis)
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let twin = keys.dirtyMembers(in: guild) + ":checkpointing"
        await checkpointer.setBeforeReleasingMarks { _ in
            // What the other process's take does with a mark a flush made after this one's take.
            _ = try? await redis.send("SADD", twin, "8")
        }
        #expect(await checkpointer.checkpoint().members == 1)
        #expect(try await store.serverUser(UserID(7), in: guild)?.xp == 50)
        #expect(try await redis.send("SMEMBERS", twin).array?.compactMap(\.string) == ["8"])
        await checkpointer.setBeforeReleasingMarks { _ in }
        #expect(await checkpointer.checkpoint().members == 1)
        #expect(try await store.serverUser(UserID(8), in: guild)?.xp == 70)
        #expect(try await redis.send("EXISTS", twin).int == 0)
        #expect(try await redis.send("SISMEMBER", keys.dirtyGuilds + ":checkpointing", String(guild.rawValue)).int == 0)
        await redis.close()
        try await store.close()
    }

    /// One checkpointer at a time on a Redis: a second, in another process, leaves the marks to the
    /// one at it — unless it is told to wait (at shutdown), when it copies what was marked after the
    /// first's take once the first is done. The lock is released after each.
    @Test func aSecondCheckpointerLeavesTheMarksToTheOneAtItOrWaitsItsTurn() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await mark(["7": "50:0:3:1::0:::::", "8": "70:0:4:1::0:::::"], only: ["7"], redis)
        let (first, second) = (Checkpointer(store: store, redis: redis, keys: keys), Checkpointer(store: store, redis: redis, keys: keys))
        let (copied, release) = await hold(first)
        async let firstReport = first.checkpoint()
        // Opened on every way out, declared after the `async let` so that it runs first: a failure
        // before the release must not leave the checkpoint (awaited on the way out) waiting.
        defer { release.open() }
        await copied.wait()
        let left = await second.checkpoint()
        #expect(left.leftToAnother && left.members == 0 && left.failures == 0, "\(left)")
        // A flush marks member 8 after the first's take; the second, shutting down, waits its turn.
        try await redis.send("SADD", keys.dirtyMembers(in: guild), "8")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        async let waited = second.checkpoint(waitingUpTo: .seconds(30))
        try await Task.sleep(for: .milliseconds(300))
        release.open()
        #expect(await firstReport.members == 1)
        let report = await waited
        #expect(!report.leftToAnother && report.members == 1 && report.failures == 0, "\(report)")
        #expect(try await store.serverUser(UserID(8), in: guild)?.xp == 70)
        #expect(try await redis.send("EXISTS", CheckpointLock(keys: keys).key).int == 0, "released")
        await redis.close()
        try await store.close()
    }

    /// A checkpoint renews its lock while it makes progress, however long it takes in all: four
    /// guilds of 300 ms each against a lock of one second, and at the fifth the lock is still
    /// held, so a second checkpointer leaves the marks to the first.
    @Test func aCheckpointThatMakesProgressKeepsItsLock() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let guilds = (0..<5).map { GuildID(guild.rawValue + (UInt64($0) << 22)) }
        for guild in guilds { try await mark(["7": "50:0:3:1::0:::::"], in: guild, redis) }
        let first = Checkpointer(store: store, redis: redis, keys: keys), second = Checkpointer(store: store, redis: redis, keys: keys)
        await first.setLockTiming(.init(lifetime: .seconds(1), renewal: .milliseconds(100)))
        // Four guilds of 300 ms; the fifth waits until the test has looked (1.2 s in, at least).
        let calls = Locked(0), atLast = Gate(), release = Gate()
        await first.setBeforeReleasingMarks { _ in
            guard calls.withLock({ $0 += 1; return $0 }) == guilds.count else {
                try? await Task.sleep(for: .milliseconds(300))
                return
            }
            atLast.open()
            await release.wait()
        }
        async let firstReport = first.checkpoint()
        defer { release.open() }
        await atLast.wait()
        #expect(try await redis.send("EXISTS", CheckpointLock(keys: keys).key).int == 1, "renewed")
        #expect(await second.checkpoint().leftToAnother)
        release.open()
        #expect(await firstReport.members == 5)
        #expect(try await redis.send("EXISTS", CheckpointLock(keys: keys).key).int == 0)
        await redis.close()
        try await store.close()
    }

    /// A checkpoint that makes no progress (a SQL call that hangs) stops renewing its lock: it runs
    /// out, and another process's checkpoint copies the marks meanwhile.
    @Test func aCheckpointThatHangsLetsItsLockRunOut() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await mark(["7": "50:0:3:1::0:::::"], redis)
        let (first, second) = (Checkpointer(store: store, redis: redis, keys: keys), Checkpointer(store: store, redis: redis, keys: keys))
        await first.setLockTiming(.init(lifetime: .milliseconds(300), renewal: .milliseconds(100)))
        let (copied, release) = await hold(first)
        async let firstReport = first.checkpoint()
        defer { release.open() }
        await copied.wait()
        try await Task.sleep(for: .milliseconds(1_000))
        #expect(try await redis.send("EXISTS", CheckpointLock(keys: keys).key).int == 0, "ran out")
        let report = await second.checkpoint()
        #expect(!report.leftToAnother && report.members == 1, "\(report)")
        release.open()
        #expect(await firstReport.members == 1)
        await redis.close()
        try await store.close()
    }

    /// A row SQL holds from a later read than the checkpoint's (Redis's clock went back, a failover
    /// to a replica whose clock is behind) is not replaced, and the checkpointer says so rather
    /// than silently: counted and logged.
    @Test(arguments: CheckpointerTests.engines)
    func rowsSQLHoldsFromALaterReadAreCountedNotReplaced(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await store.registerGuild(guild)
        let hourAhead = Int64(Date().timeIntervalSince1970 * 1_000) + 3_600_000
        var later = ServerUserStats(guild: guild, user: UserID(7), xp: 40, level: 0, karma: 0, trust: 50, messageCount: 2, updatedAt: Date())
        later.asOf = hourAhead
        try await store.upsertServerUsers([later])
        try await mark(["7": "50:0:3:1::0:::::", "8": "70:0:4:1::0:::::"], redis)
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let report = await checkpointer.checkpoint()
        #expect(report.failures == 0 && report.members == 1 && report.rowsNotWritten == 1, "\(report)")
        #expect(await checkpointer.totals.rowsNotWritten == 1)
        #expect(try await store.serverUser(UserID(7), in: guild)?.xp == 40, "kept")
        #expect(try await store.serverUser(UserID(8), in: guild)?.xp == 70)
        await redis.close()
        try await store.close()
    }

    /// A mark that is not an ID (not Kamii's: a key written by hand) is dropped when taken, so the
    /// set still empties and the guild is not listed for ever — bytes that are not UTF-8 too, which
    /// could not be named back to Redis once read as text.
    @Test func marksThatAreNotIDsAreDroppedWhenTaken() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await redis.send("HSET", keys.members(in: guild), "7", "50:0:3:1::0:::::")
        var notUTF8 = RedisPipeline()
        notUTF8.beginCommand(arguments: 3)
        notUTF8.appendArgument("SADD")
        notUTF8.appendArgument(keys.dirtyMembers(in: guild))
        notUTF8.appendArgument(bytes: [0xFF, 0xFE, 0x37])
        for reply in try await redis.execute(notUTF8) { _ = try reply.orThrow() }
        try await redis.send("SADD", keys.dirtyMembers(in: guild), "7", "not-a-user", "")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue), "guild?")
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.members == 1 && report.failures == 0)
        #expect(try await store.serverUser(UserID(7), in: guild)?.xp == 50)
        #expect(try await redis.send("EXISTS", keys.dirtyMembers(in: guild) + ":checkpointing").int == 0)
        #expect(try await redis.send("EXISTS", keys.dirtyGuilds + ":checkpointing").int == 0)
        await redis.close()
        try await store.close()
    }
}
