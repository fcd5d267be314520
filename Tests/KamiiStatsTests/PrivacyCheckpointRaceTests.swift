import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A checkpoint that read a member before their deletion, and a member who posts again after it,
/// starting a new record: the row the checkpoint writes holds data deleted, and goes.
extension PrivacyDeletionTests {
    /// A checkpoint read the user before the deletion; the user posts again right after Redis's
    /// first pass, which starts their record again, and the checkpoint writes its row after the
    /// first SQL delete. The row goes — deleted by the checkpoint's trust step (which finds the
    /// deletion remembered since its read though a record is there) or SQL's second pass, whichever
    /// comes first; the test does not tell which.
    @Test func aRowWrittenBackBesideARecreatedRecordGoes() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, deletionClockAllowance: .zero))
        for user in [one, two] { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }
        #expect(await flusher.flush())
        let (checkpointer, read, release) = await heldCheckpointer(store, redis)
        async let checkpointed = checkpointer.checkpoint()
        await read.wait()
        async let deleted = deletion(store, redis).delete(UserID(one))
        let reader = StatsReader(redis: redis, keys: keys)
        try await waitUntil("Redis's first pass") { try await reader.member(UserID(one), in: guild) == nil }
        // A take that begins after the deletion, so the message after it is one the flush applies
        // (the buffer's clock is coarse: a few ms).
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: one) }
        #expect(await flusher.flush())
        #expect(try await reader.member(UserID(one), in: guild)?.messages == 1)
        release.open()
        _ = await checkpointed
        let report = try await deleted
        #expect(report.redisAfterSQL == 1, "\(report)")
        #expect(try await store.serverUser(UserID(one), in: guild) == nil, "the deleted user stays deleted")
        #expect(try await store.serverUser(UserID(two), in: guild)?.messageCount == 1)
        #expect(try await reader.member(UserID(one), in: guild) == nil)
        await redis.close()
        try await store.close()
    }

    /// The checkpoint writes after the deletion has run whole (both SQL passes), the member having
    /// posted again meanwhile: writing trust back finds their deletion remembered after its read
    /// and deletes the row it wrote, though a record is there; the new record stays marked for a
    /// later checkpoint.
    @Test(arguments: CheckpointerTests.engines)
    func aRowReadBeforeADeletionGoesThoughTheMemberPostedAgain(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let reader = StatsReader(redis: redis, keys: keys)
        _ = try await heldCheckpoint(store, redis) {
            let report = try await deletion(store, redis).delete(UserID(one))
            #expect(report.redis == 1, "\(report)")
            // A take that begins after the deletion, so the message after it (no XP) is one the flush applies.
            let buffer = StatsBuffer()
            let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, deletionClockAllowance: .zero))
            try await Task.sleep(for: .milliseconds(30))
            #expect(await flusher.flush())
            buffer.record(guild: guild.rawValue) { $0.countMessage(by: one) }
            #expect(await flusher.flush())
            #expect(try await reader.member(UserID(one), in: guild).map { [$0.messages, $0.xp] } == [1, 0])
        }
        #expect(try await store.serverUser(UserID(one), in: guild) == nil, "the row read before the deletion is gone")
        #expect(try await store.serverUser(UserID(two), in: guild)?.xp == 40)
        #expect(try await reader.member(UserID(one), in: guild)?.trust == nil, "no trust worked out from the data deleted")
        // Marked for a later checkpoint. One that reads within the clock allowance of the deletion
        // (5 s) cannot tell their record from one read before it, deletes the row and marks it
        // again; one later writes what they did since (no XP). Never the 20 XP before.
        #expect(try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), String(one)).int == 1)
        _ = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        let row = try await store.serverUser(UserID(one), in: guild)
        let marked = try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), String(one)).int == 1
        #expect(row == nil ? marked : row?.xp == 0 && row?.messageCount == 1 && !marked, "\(String(describing: row)), marked: \(marked)")
        await redis.close()
        try await store.close()
    }

    /// A row SQL holds from a later read than the checkpoint's (another checkpoint's) is that
    /// checkpoint's to judge: the rows deleted for a member purged since the read are those of this
    /// read or earlier.
    @Test func aPurgedMembersRowOfALaterReadIsLeftToItsCheckpoint() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        _ = try await heldCheckpoint(store, redis) {
            _ = try await deletion(store, redis).delete(UserID(one))
            try await store.registerGuild(guild)
            try await store.upsertServerUsers([ServerUserStats(
                guild: guild, user: UserID(one), xp: 0, level: 0, karma: 0, trust: 50, messageCount: 7, updatedAt: Date(), asOf: .max - 1)])
        }
        #expect(try await store.serverUser(UserID(one), in: guild)?.messageCount == 7)
        #expect(try await store.serverUser(UserID(two), in: guild)?.xp == 40)
        await redis.close()
        try await store.close()
    }

    /// A checkpoint of a dirty set (karma receivers) read the member
    /// before their deletion, wrote the row back after the deletion had run whole, and died before
    /// writing trust back (which deletes it): the deletion left the member's marks, so the next
    /// checkpoint finds them without a record, their deletion remembered, and deletes the row.
    @Test(arguments: CheckpointerTests.engines)
    func aRowWrittenBackByACheckpointThatDiedGoesAtTheNext(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, writesChangeJournal: false))
        for user in [one, two] {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_735_689_600_000, xp: 20), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
        try await store.registerGuild(guild)
        // Marked as a flush marks karma receivers.
        try await redis.send("SADD", keys.dirtyMembers(in: guild), String(one), String(two))
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        // The checkpoint that dies: its own connection, closed once the deletion has run, so the
        // rows are written and nothing after them reaches Redis (its lock runs out in a second).
        let dying = try RedisTestServer.client()
        let checkpointer = Checkpointer(store: store, redis: dying, keys: keys)
        await checkpointer.setLockTiming(.init(lifetime: .seconds(1), renewal: .milliseconds(500)))
        let deletion = deletion(store, redis)
        await checkpointer.pauseBeforeWritingSQL { _ in
            _ = try? await deletion.delete(UserID(one))
            await dying.close()
        }
        let died = await checkpointer.checkpoint()
        #expect(died.failures >= 1, "\(died)")
        #expect(try await store.serverUser(UserID(one), in: guild)?.xp == 20, "written back after the deletion")

        try await Task.sleep(for: .milliseconds(1_100))
        let next = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(next.failures == 0, "\(next)")
        #expect(try await store.serverUser(UserID(one), in: guild) == nil, "the deleted user stays deleted")
        #expect(try await store.serverUser(UserID(two), in: guild)?.xp == 20)
        #expect(try await redis.send("EXISTS", keys.dirtyMembers(in: guild), keys.dirtyMembers(in: guild) + ":checkpointing").int == 0)
        await redis.close()
        try await store.close()
    }
}
