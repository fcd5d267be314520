import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A privacy request run while the bot runs: the bot's own writers must not bring the deleted data
/// back, whichever side of the deletion their read and their write fall on. Against redis-server
/// and each SQL engine.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct PrivacyDeletionTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    /// Three members, the first the one deleted. Random: a user's deletion reaches every guild of a
    /// store other suites share (the test PostgreSQL).
    let one = UInt64.random(in: 1...(1 << 60)), two = UInt64.random(in: 1...(1 << 60)), three = UInt64.random(in: 1...(1 << 60))

    /// Reads the guild's rows from SQL like the store's hydrator, then holds the first load there
    /// until `release` opens (`read` opens once the rows are in hand).
    final class HeldHydrator: GuildHydrator {
        let store: KamiiStore
        let read = Gate(), release = Gate()
        let calls = Locked(0)
        init(store: KamiiStore) { self.store = store }
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            let rows = try await store.serverUsers(in: guild, after: after, limit: limit)
            if calls.withLock({ $0 += 1; return $0 }) == 1 {
                read.open()
                await release.wait()
            }
            return rows
        }
    }

    /// SQL rows for `users`, with this XP each.
    private func checkpointed(_ store: KamiiStore, users: [(UInt64, xp: Int64)]) async throws {
        try await store.registerGuild(guild)
        try await store.upsertServerUsers(users.map {
            ServerUserStats(guild: guild, user: UserID($0.0), xp: $0.xp, level: 1, karma: 3, trust: 50, messageCount: 9, updatedAt: Date())
        })
    }

    func deletion(_ store: KamiiStore, _ redis: RedisClient) -> PrivacyDeletion {
        PrivacyDeletion(store: store, stats: StatsPurge(redis: redis, keys: keys))
    }

    /// The bot loads a guild Redis lacks from SQL; a user's deletion runs whole between its read
    /// and its write. The load finds the user gone from SQL and takes them out again.
    @Test(arguments: CheckpointerTests.engines)
    func aLoadThatReadBeforeAUsersDeletionDoesNotBringThemBack(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let hydrations = try await heldLoad(store, redis) {
            let report = try await deletion(store, redis).delete(UserID(one))
            #expect(report.sql.serverUsers == 1 && report.redis == 0 && report.redisAfterSQL == 0, "\(report)")
        }
        #expect(hydrations == 1)

        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil, "the deleted user stays deleted")
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), String(one)).isNull)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), String(one)).isNull)
        #expect(try await reader.member(UserID(two), in: guild)?.xp == 200, "the rest of the guild loaded")
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), String(two)).int == 200)
        #expect(try await reader.member(UserID(three), in: guild)?.messages == 1)
        #expect(try await store.serverUser(UserID(one), in: guild) == nil)
        await redis.close()
        try await store.close()
    }

    /// The same with the whole guild deleted: neither the load nor what the flush carried (recorded
    /// before the deletion) is left.
    @Test func aLoadThatReadBeforeAGuildsDeletionDoesNotBringItBack() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        _ = try await heldLoad(store, redis) {
            let report = try await deletion(store, redis).delete(guild)
            #expect(report.sql.serverUsers == 2 && report.sql.configs == 1, "\(report)")
        }

        let members = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(members.isEmpty, "the message flushed was recorded before the deletion: \(members)")
        #expect(try await redis.send("ZCARD", keys.leaderboard(.xp, in: guild)).int == 0)
        #expect(try await store.serverUsers(in: guild).isEmpty)
        await redis.close()
        try await store.close()
    }

    /// What the bot had buffered when the deletion began, flushed once SQL is done: Redis's second
    /// pass waits for it, so the user's record does not start again from it.
    @Test func changesBufferedBeforeTheDeletionAreGoneWithIt() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await checkpointed(store, users: [(one, 100), (two, 200)])
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: three) }
        #expect(await flusher.flush(), "the guild loaded before the deletion")
        for user in [one, two] { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }

        async let deleted = deletion(store, redis).delete(UserID(one))
        try await waitUntil("SQL deleted") { try await store.serverUser(UserID(one), in: guild) == nil }
        #expect(await flusher.flush())
        let report = try await deleted
        // The flush left the deleted member out itself (their changes predate the deletion), so
        // Redis's second pass finds nothing of them.
        #expect(report.redis == 1 && report.sql.serverUsers == 1 && report.redisAfterSQL == 0, "\(report)")
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil)
        #expect(try await reader.member(UserID(two), in: guild)?.messages == 10)
        await redis.close()
        try await store.close()
    }

    /// Redis lost the guild (restarted empty) while the bot holds a deleted user's changes there,
    /// waiting for the guild to be loaded: the deletion, finding no record of them in Redis, is
    /// remembered there anyway (SQL held their counters), so the load and the flush after it do not
    /// start their record again; the other members keep theirs.
    @Test(arguments: [false, true])
    func changesHeldForAGuildRedisLostAreGoneWithTheUser(loadUnderWay: Bool) async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await checkpointed(store, users: [(one, 100), (two, 200)])
        if loadUnderWay {
            // A load under way: another member's row written, the user's not yet, no marker.
            var page = RedisPipeline()
            page.beginCommand(arguments: 4)
            for argument in ["HSET", keys.members(in: guild), String(two)] { page.appendArgument(argument) }
            page.appendArgument(bytes: MemberRecord(xp: 200, messages: 9).stored)
            _ = try await redis.execute(page).first?.orThrow()
        }
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
        for user in [one, two] { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }

        let report = try await deletion(store, redis).delete(UserID(one))
        #expect(report.redis == 0 && report.sql.serverUsers == 1, "\(report)")
        #expect(await flusher.flush(), "the guild loaded, then its batch applied")
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil, "the deleted user's held message starts no record")
        #expect(try await reader.member(UserID(two), in: guild)?.messages == 10)
        await redis.close()
        try await store.close()
    }

    /// A load that wrote its rows and then could not check them against SQL leaves the guild
    /// unmarked; the next load starts clean, so a member deleted in between does not stay behind.
    @Test func aLoadClearsWhatAnUnfinishedOneLeft() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await checkpointed(store, users: [(two, 200)])
        try await redis.send("HSET", keys.members(in: guild), String(one), "100:1:9:3:1735689600000:3:::::")
        try await redis.send("ZADD", keys.leaderboard(.xp, in: guild), "100", String(one))
        try await redis.send("HSET", keys.members(in: guild), StatsKeys.deletedField, "1735689600000")
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: three) }
        #expect(await flusher.flush())
        let members = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(Set(members.keys) == [UserID(two), UserID(three)], "\(members)")
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), String(one)).isNull)
        #expect(try await redis.send("HGET", keys.members(in: guild), StatsKeys.deletedField).string == "1735689600000",
                "the time of the guild's latest deletion stays")
        await redis.close()
        try await store.close()
    }

    /// A checkpoint reads records from Redis; a user's deletion runs whole before it writes them to
    /// SQL. Writing trust back, it finds the record gone and deletes the row it wrote.
    @Test(arguments: CheckpointerTests.engines)
    func aCheckpointThatReadBeforeAUsersDeletionDoesNotBringThemBack(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let checkpointer = try await heldCheckpoint(store, redis) {
            let report = try await deletion(store, redis).delete(UserID(one))
            #expect(report.redis == 1 && report.sql.serverUsers == 0 && report.redisAfterSQL == 0, "\(report)")
        }
        #expect(checkpointer.members == 1 && checkpointer.failures == 0, "\(checkpointer)")
        #expect(try await store.serverUser(UserID(one), in: guild) == nil, "the deleted user stays deleted")
        #expect(try await store.serverUser(UserID(two), in: guild)?.xp == 40)
        #expect(try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), String(one)).int == 0, "nothing of theirs left to copy")
        await redis.close()
        try await store.close()
    }

    /// A Redis that lost the guild between the checkpoint's read and its write is not a deletion:
    /// the rows written are all that is left of those members, and they stay. So too when the bot
    /// has loaded the guild again from SQL meanwhile, which did not have this checkpoint's members
    /// yet: their records are missing from a guild with a batch marker, but nobody deleted them.
    @Test(arguments: CheckpointerTests.engines, [false, true])
    func aCheckpointThatOutlivesRedisLosingTheGuildKeepsItsRows(engine: String, reloaded: Bool) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let checkpointer = try await heldCheckpoint(store, redis) {
            for board in Leaderboard.allCases { try await redis.send("DEL", keys.leaderboard(board, in: guild)) }
            try await redis.send("DEL", keys.members(in: guild))
            guard reloaded else { return }
            let buffer = StatsBuffer()
            let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
            buffer.record(guild: guild.rawValue) { $0.countMessage(by: three) }
            #expect(await flusher.flush())
            #expect(await flusher.totals.hydrations == 1)
        }
        #expect(checkpointer.members == 2 && checkpointer.failures == 0, "\(checkpointer)")
        #expect(try await store.serverUser(UserID(one), in: guild)?.xp == 20)
        #expect(try await store.serverUser(UserID(two), in: guild)?.xp == 40)
        await redis.close()
        try await store.close()
    }

    /// A checkpoint reads the guild's records; the guild's deletion runs whole before it writes
    /// them to SQL. Writing trust back, it finds the guild deleted after its read and deletes the rows
    /// it wrote.
    @Test(arguments: CheckpointerTests.engines)
    func aCheckpointThatReadBeforeAGuildsDeletionDoesNotBringItBack(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let checkpointer = try await heldCheckpoint(store, redis) {
            let report = try await deletion(store, redis).delete(guild)
            #expect(report.redis >= 2 && report.redisAfterSQL == 1, "\(report)")
        }
        #expect(checkpointer.members == 0 && checkpointer.failures == 0, "\(checkpointer)")
        #expect(try await store.serverUsers(in: guild).isEmpty, "the deleted guild stays deleted")
        #expect(try await store.guildConfig(guild) == nil, "not registered again")
        await redis.close()
        try await store.close()
    }

    /// A checkpoint wrote a deleted member's row back and died (or failed) before deleting it again:
    /// the member is still marked, without a record. The next checkpoint deletes the row, since
    /// Redis remembers the deletion — and leaves alone a marked member whose deletion it does not,
    /// and a row read a minute after the deletion (the member posted again since; their record is
    /// missing because Redis lost it, or a load is writing it back), which holds only what came after.
    @Test(arguments: CheckpointerTests.engines)
    func aRowAnUnfinishedCheckpointWroteBackIsDeletedByTheNext(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await checkpointed(store, users: [(one, 100), (two, 200)])
        let deletedAt = Int64(Date().timeIntervalSince1970 * 1_000)
        try await store.upsertServerUsers([ServerUserStats(
            guild: guild, user: UserID(three), xp: 20, level: 0, karma: 0, trust: 50, messageCount: 1, updatedAt: Date(),
            asOf: deletedAt + 60_000)])
        for user in [one, three] { try await redis.send("HSET", keys.deletions(in: guild), String(user), String(deletedAt)) }
        try await redis.send("SADD", keys.dirtyMembers(in: guild), String(one), String(two), String(three))
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.failures == 0, "\(report)")
        #expect(
            Set(try await store.serverUsers(in: guild).map(\.user)) == [UserID(two), UserID(three)],
            "the deleted member's row is gone; the other and the one read after its deletion stay")
        await redis.close()
        try await store.close()
    }

    /// A remembered deletion whose time Kamii cannot read counts as the latest there is: the row
    /// goes (a deletion is never undone by doubt, nor by a time past what Int64 holds).
    @Test func aDeletionWithATimeKamiiCannotReadStillDeletes() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await checkpointed(store, users: [(one, 100), (two, 200)])
        try await store.upsertServerUsers([ServerUserStats(
            guild: guild, user: UserID(one), xp: 100, level: 1, karma: 3, trust: 50, messageCount: 9, updatedAt: Date(), asOf: .max - 1)])
        try await redis.send("HSET", keys.deletions(in: guild), String(one), "not a time", String(two), String(Int64.max))
        try await redis.send("SADD", keys.dirtyMembers(in: guild), String(one), String(two))
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        #expect(await Checkpointer(store: store, redis: redis, keys: keys).checkpoint().failures == 0)
        #expect(try await store.serverUsers(in: guild).isEmpty)
        await redis.close()
        try await store.close()
    }

    /// Checkpoints `one` and `two` in SQL, then flushes a message of `three` to a Redis that lacks the
    /// guild with `meanwhile` run between the load's read of SQL and its write to Redis; returns the
    /// flusher's loads.
    private func heldLoad(_ store: KamiiStore, _ redis: RedisClient, meanwhile: () async throws -> Void) async throws -> Int {
        try await checkpointed(store, users: [(one, 100), (two, 200)])
        let hydrator = HeldHydrator(store: store)
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: hydrator)
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: three) }
        async let flushed = flusher.flush()
        await hydrator.read.wait()
        do {
            try await meanwhile()
        } catch {
            hydrator.release.open()
            _ = await flushed
            throw error
        }
        hydrator.release.open()
        #expect(await flushed)
        return await flusher.totals.hydrations
    }

    /// A checkpointer whose checkpoints open `read` once they have read Redis, then wait for
    /// `release` before writing SQL.
    func heldCheckpointer(_ store: KamiiStore, _ redis: RedisClient) async -> (Checkpointer, read: Gate, release: Gate) {
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let read = Gate(), release = Gate()
        await checkpointer.pauseBeforeWritingSQL { _ in
            read.open()
            await release.wait()
        }
        return (checkpointer, read, release)
    }

    /// Flushes XP for `one` (20) and `two` (40), then checkpoints with `meanwhile` run between the checkpoint's
    /// read of Redis and its write to SQL.
    func heldCheckpoint(
        _ store: KamiiStore, _ redis: RedisClient, meanwhile: () async throws -> Void
    ) async throws -> Checkpointer.Report {
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for (user, xp) in [(one, 20), (two, 40)] {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_735_689_600_000, xp: xp), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
        let (checkpointer, read, release) = await heldCheckpointer(store, redis)
        async let report = checkpointer.checkpoint()
        await read.wait()
        do {
            try await meanwhile()
        } catch {
            release.open()
            _ = await report
            throw error
        }
        release.open()
        return await report
    }
}
