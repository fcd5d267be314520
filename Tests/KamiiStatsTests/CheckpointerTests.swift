import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Redis → SQL checkpoints and SQL → Redis rehydration, against redis-server and each SQL engine
/// `ops/test` runs (SQLite always; PostgreSQL when it is given).
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerTests {
    static var engines: [String] {
        ProcessInfo.processInfo.environment["KAMII_TEST_POSTGRES_URL"] != nil ? ["sqlite", "postgres"] : ["sqlite"]
    }

    /// A migrated store: a fresh SQLite file, or the test PostgreSQL (guild IDs are random, so
    /// tests do not meet).
    static func store(_ engine: String) async throws -> (KamiiStore, () -> Void) {
        let url: String
        var cleanup: () -> Void = {}
        if engine == "postgres" {
            url = try #require(ProcessInfo.processInfo.environment["KAMII_TEST_POSTGRES_URL"])
        } else {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).sqlite").path
            url = "sqlite:\(path)"
            cleanup = { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        }
        let store = try KamiiStore(StoreConfiguration(url: url))
        _ = try await store.migrate()
        return (store, cleanup)
    }

    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    private func grant(_ buffer: StatsBuffer, user: UInt64, second: UInt64, xp: Int) {
        buffer.record(guild: guild.rawValue) { batch in
            batch.countMessage(by: user)
            batch.grant(.init(user: user, messageTime: 1_735_689_600_000 + second * 1_000, xp: xp), cooldownMilliseconds: 60_000)
        }
    }

    /// A damaged record (a count below zero, a level past the curve's end and PostgreSQL's
    /// INTEGER) is written within range instead of failing its guild's checkpoint, which would then
    /// fail again every time, the other members with it.
    @Test(arguments: Self.engines)
    func aRecordWithNegativeCountsDoesNotHoldUpItsGuild(_ engine: String) async throws {
        let (store, cleanup) = try await Self.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await redis.send(
            "HSET", keys.members(in: guild), "7", "-130:-1:-9:-4::3:::::", "8", "50:0:3:1::0:::::", "9", "60:3000000000:2:2::0:::::")
        try await redis.send("SADD", keys.dirtyMembers(in: guild), "7", "8", "9")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.failures == 0)
        let damaged = try await store.serverUser(UserID(7), in: guild)
        #expect(damaged?.xp == 0 && damaged?.level == 0 && damaged?.messageCount == 0 && damaged?.xpMessages == 0 && damaged?.karma == 3)
        #expect(try await store.serverUser(UserID(8), in: guild)?.xp == 50)
        #expect(try await store.serverUser(UserID(9), in: guild)?.level == LevelCurve.maximumLevel)
        await redis.close()
        try await store.close()
    }

    /// Right after an upgrade, dirty members may still hold records in the text form earlier
    /// versions wrote: they reach SQL, and their trust is written back into the text record.
    @Test func textRecordsOfEarlierVersionsAreCheckpointed() async throws {
        let (store, cleanup) = try await Self.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await redis.send("HSET", keys.members(in: guild), "7", "130:1:9:4:1735689600000:3:::::")
        try await redis.send("SADD", keys.dirtyMembers(in: guild), "7")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.failures == 0 && report.members >= 1)
        let found = try await store.serverUser(UserID(7), in: guild)
        guard let row = found else {
            Issue.record("no server_users row: \(report)")
            try await store.close()
            return
        }
        #expect(row.xp == 130 && row.level == 1 && row.messageCount == 9 && row.xpMessages == 4 && row.karma == 3)
        let stored = try #require(try await redis.send("HGET", keys.members(in: guild), "7").string)
        #expect(stored == "130:1:9:4:1735689600000:3:\(row.trust)::::", "the trust place filled, the rest as it was")
        await redis.close()
        try await store.close()
    }

    @Test(arguments: engines)
    func changedMembersReachSQLAndALostGuildComesBackFromIt(engine: String) async throws {
        let (store, cleanup) = try await Self.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)

        grant(buffer, user: 1, second: 0, xp: 60)
        grant(buffer, user: 1, second: 61, xp: 50)
        grant(buffer, user: 2, second: 0, xp: 20)
        buffer.record(guild: guild.rawValue) { $0.giveKarma(to: 2, count: 4) }
        #expect(await flusher.flush())
        #expect(await flusher.totals.hydrations == 1, "a guild new to Redis is looked up in SQL first")

        let first = await checkpointer.checkpoint()
        #expect(first.guilds >= 1 && first.members >= 2 && first.failures == 0)
        let one = try #require(try await store.serverUser(UserID(1), in: guild))
        #expect(one.xp == 110 && one.level == 1 && one.messageCount == 2)
        // Trust from what is known: an account from 2015, two messages, no member event seen yet.
        let expectedTrust = TrustFactor.score(.init(accountCreatedAt: UserID(1).unixMilliseconds, hasAvatar: nil, messages: 2), now: UInt64(Date().timeIntervalSince1970 * 1_000)).value
        #expect(one.trust == expectedTrust)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.trust == expectedTrust)
        let two = try #require(try await store.serverUser(UserID(2), in: guild))
        #expect(two.xp == 20 && two.karma == 4)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0)

        // Redis loses the guild (restarted empty, flushed): its next batch starts from the checkpoint.
        for key in [keys.members(in: guild),
                    keys.leaderboard(.xp, in: guild), keys.leaderboard(.karma, in: guild)] {
            try await redis.send("DEL", key)
        }
        // A message seen again after the loss (second 100, inside the cooldown of the XP at second
        // 61, which SQL kept) earns nothing; a later one does.
        grant(buffer, user: 1, second: 100, xp: 25)
        grant(buffer, user: 1, second: 200, xp: 25)
        #expect(await flusher.flush())
        #expect(await flusher.totals.hydrations == 2)
        let back = try #require(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild))
        #expect(back.xp == 135 && back.xpMessages == 3 && back.lastXPAt == 1_735_689_800_000, "\(back)")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(2), in: guild)?.karma == 4)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), "2").int == 20)

        await checkpointer.checkpoint()
        let stored = try await store.serverUser(UserID(1), in: guild)
        #expect(stored?.xp == 135 && stored?.xpMessages == 3 && stored?.lastXPAt == 1_735_689_800_000)
        await redis.close()
        try await store.close()
    }

    /// A journal entry that is not one (written by hand, cut short) is dropped; the rest is copied.
    @Test func aJournalEntryThatIsNotOneDoesNotHoldUpTheRest() async throws {
        let (store, cleanup) = try await Self.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        grant(buffer, user: 9, second: 0, xp: 40)
        #expect(await flusher.flush())
        try await redis.send("HSET", keys.changeJournal, "by-hand", "12345")
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.failures == 0 && report.members == 1)
        #expect(try await store.serverUser(UserID(9), in: guild)?.xp == 40)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0)
        await redis.close()
        try await store.close()
    }

    /// Entries past one page are read too, and a member named by many entries is copied once; a
    /// guild whose members key is not a hash (the flusher reports it broken) is dropped rather than
    /// failing every checkpoint.
    @Test func manyEntriesAreReadAndABrokenGuildIsDropped() async throws {
        let (store, cleanup) = try await Self.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let broken = GuildID(guild.rawValue + (1 << 22))
        for flush in 0..<(Checkpointer.journalPage + 6) {
            grant(buffer, user: UInt64(flush % 50) + 1, second: UInt64(flush) * 61, xp: 10)
            buffer.record(guild: broken.rawValue) { $0.countMessage(by: 1) }
            #expect(await flusher.flush())
            if flush == 0 { try await redis.send("SET", keys.members(in: broken), "not a hash") }
        }
        #expect(try await redis.send("HLEN", keys.changeJournal).int == Checkpointer.journalPage + 6)
        let report = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(report.members == 50 && report.guilds == 1, "\(report)")
        #expect(report.failures == 1, "the broken guild")
        #expect(try await store.serverUser(UserID(1), in: guild)?.xp == 20)
        #expect(try await store.serverUser(UserID(50), in: guild)?.xp == 10)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0, "nothing kept for the broken guild")
        await redis.close()
        try await store.close()
    }

    /// A guild in the dirty-set list whose dirty set is not a set (keys Kamii did not write) is
    /// dropped from the list, not failed again at every checkpoint.
    @Test func aBrokenDirtySetIsDropped() async throws {
        let (store, cleanup) = try await Self.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await redis.send("SET", keys.dirtyMembers(in: guild), "not a set")
        try await redis.send("SADD", keys.dirtyGuilds, String(guild.rawValue))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        #expect(await checkpointer.checkpoint().failures == 1)
        #expect(await checkpointer.checkpoint().failures == 0)
        #expect(try await redis.send("EXISTS", keys.dirtyGuilds + ":checkpointing").int == 0)
        #expect(try await redis.send("GET", keys.dirtyMembers(in: guild)).string == "not a set", "left where it is, for the flusher to report")
        await redis.close()
        try await store.close()
    }

    @Test func aCheckpointThatCannotWriteLeavesEverythingMarked() async throws {
        let (store, cleanup) = try await Self.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        grant(buffer, user: 7, second: 0, xp: 30)
        #expect(await flusher.flush())
        try await store.close()

        let failed = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(failed.failures >= 1 && failed.members == 0)
        // The flush's entry is replaced by one naming what failed: attempts do not make it grow.
        let fields = try #require(try await redis.send("HKEYS", keys.changeJournal).array?.compactMap(\.string))
        #expect(fields.count == 1 && fields[0].hasPrefix("retry-"), "\(fields)")
        _ = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()
        #expect(try await redis.send("HLEN", keys.changeJournal).int == 1)
        let (reopened, cleanupAgain) = try await Self.store("sqlite")
        defer { cleanupAgain() }
        let report = await Checkpointer(store: reopened, redis: redis, keys: keys).checkpoint()
        #expect(report.members >= 1)
        #expect(try await reopened.serverUser(UserID(7), in: guild)?.xp == 30)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0, "done with once SQL has it")
        await redis.close()
        try await reopened.close()
    }

    /// Moderation cases weigh on the trust a checkpoint computes: a fresh ban takes 30 points, a
    /// revoked one nothing.
    @Test(arguments: engines)
    func casesWeighOnTrustUnlessRevoked(engine: String) async throws {
        let (store, cleanup) = try await Self.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        try await store.registerGuild(guild)
        let banned = UserID(UInt64(1_000) << 22), forgiven = UInt64(1_001) << 22, clean = UInt64(1_002) << 22
        _ = try await store.createCase(NewPunishment(guild: guild, user: banned, moderator: UserID(1 << 30), kind: .ban, reason: "spam"))
        let revoked = try await store.createCase(NewPunishment(guild: guild, user: UserID(forgiven), moderator: UserID(1 << 30), kind: .ban, reason: "?"))
        try await store.revokeCase(revoked.caseID, in: guild, by: UserID(1 << 30), reason: "wrong member")
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let profile = MemberProfile(hasAvatar: true, joinedAt: 1_735_689_600_000, isPending: false, isVerified: false, trust: 60)
        for user in [banned.rawValue, forgiven, clean] {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.setProfile(profile, of: user)
            }
        }
        #expect(await flusher.flush())
        _ = await Checkpointer(store: store, redis: redis, keys: keys).checkpoint()

        let trust = { (user: UInt64) in try await store.serverUser(UserID(user), in: self.guild)?.trust }
        let cleanTrust = try #require(try await trust(clean))
        #expect(try await trust(forgiven) == cleanTrust, "a revoked case weighs nothing")
        #expect(try await trust(banned.rawValue) == max(0, cleanTrust - 30), "a ban given just now: −30")
        await redis.close()
        try await store.close()
    }

    /// A guild new to this process is looked up before its first flush and loaded from SQL if Redis
    /// lacks it — not refused in the middle of a flush whose other guilds go in, which would leave
    /// the shards' positions to a second write (a kill in between replays those guilds' messages).
    @Test func aGuildRedisLacksIsLoadedBeforeItsFirstFlush() async throws {
        /// Notes whether the other guild's change was already in Redis when it was asked.
        final class Watching: GuildHydrator, @unchecked Sendable {
            let redis: RedisClient, keys: StatsKeys, other: GuildID
            let sawOtherApplied = Locked<[Bool]>([])
            init(redis: RedisClient, keys: StatsKeys, other: GuildID) { (self.redis, self.keys, self.other) = (redis, keys, other) }
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
                let applied = try await StatsReader(redis: redis, keys: keys).member(UserID(2), in: other) != nil
                sawOtherApplied.withLock { $0.append(applied) }
                return []
            }
        }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let known = GuildID(guild.rawValue + (1 << 22))
        try await redis.send("HSET", keys.members(in: known), StatsKeys.batchField, "hydrated")
        let hydrator = Watching(redis: redis, keys: keys, other: known)
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: hydrator)
        grant(buffer, user: 1, second: 0, xp: 30)
        buffer.record(guild: known.rawValue) { $0.countMessage(by: 2) }
        #expect(await flusher.flush())
        #expect(hydrator.sawOtherApplied.value == [false], "loaded before anything of the flush went in, once")
        #expect(await flusher.seenLoaded.contains(guild.rawValue))
        #expect(await flusher.seenLoaded.contains(known.rawValue), "a guild Redis has is seen without loading")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.xp == 30)
        grant(buffer, user: 1, second: 100, xp: 20)
        #expect(await flusher.flush())
        #expect(hydrator.sawOtherApplied.value.count == 1, "a guild seen once is not looked up again")
        await redis.close()
    }

    /// Rehydration that fails (the SQL store unreachable) holds back only its own guilds: the rest
    /// is flushed, the waiting guilds' changes go once they load, and the shards' positions are
    /// claimed only then. After a failure the store is left alone for a quiet period: the loads
    /// begun together at most (``StatsFlusher/Configuration/hydrationConcurrency``), none while it
    /// lasts.
    @Test func guildsThatCannotBeLoadedWaitAloneAndPositionsWaitWithThem() async throws {
        /// Fails while `down`, like a database that comes back.
        final class ComingBack: GuildHydrator, @unchecked Sendable {
            let down = Locked(true), calls = Locked(0)
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
                calls.withLock { $0 += 1 }
                if down.value { throw StoreError(.database, "the database is down") }
                return []
            }
        }
        let store = ComingBack()
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let claimed = Locked<[[Int: ShardPosition]]>([])
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, hydrationBackoff: .milliseconds(200)), hydrator: store,
            onDurable: { positions in claimed.withLock { $0.append(positions) } })
        let known = GuildID(guild.rawValue + (1 << 22)), unloaded = GuildID(guild.rawValue + (2 << 22))
        try await redis.send("HSET", keys.members(in: known), StatsKeys.batchField, "hydrated")
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 77)) {
            grant(buffer, user: 1, second: 0, xp: 30)
            buffer.record(guild: known.rawValue) { $0.countMessage(by: 2) }
            buffer.record(guild: unloaded.rawValue) { $0.countMessage(by: 3) }
        }

        #expect(await !flusher.flush(), "two guilds wait")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(2), in: known)?.messages == 1, "the rest went")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild) == nil)
        #expect(buffer.unacknowledged == 3)
        #expect(claimed.value.isEmpty, "no position claimed while a guild waits")
        #expect(store.calls.value == 2, "both loads begun together")
        #expect(await !flusher.flush(), "still down: still waiting")
        #expect(store.calls.value == 2, "no load tried in the quiet period")
        #expect(claimed.value.isEmpty)

        store.down.withLock { $0 = false }
        grant(buffer, user: 1, second: 100, xp: 20)
        try await waitUntil("loaded after the quiet period", timeout: .seconds(10)) { await flusher.flush() }
        #expect(store.calls.value == 4)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.xp == 50)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(3), in: unloaded)?.messages == 1)
        #expect(buffer.unacknowledged == 0)
        #expect(claimed.value == [[0: ShardPosition(session: 1, sequence: 77)]])
        await redis.close()
    }

    /// A guild that can never be loaded (its rows broken) is tried last after it failed: the other
    /// guilds waiting for a load go in, however the flush orders them.
    @Test func aGuildThatNeverLoadsDoesNotKeepTheOthersOut() async throws {
        final class OneBroken: GuildHydrator, @unchecked Sendable {
            let broken: GuildID
            init(_ broken: GuildID) { self.broken = broken }
            func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
                if guild == broken { throw StoreError(.database, "a row that does not decode") }
                return []
            }
        }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let others = (1...6).map { GuildID(guild.rawValue + (UInt64($0) << 22)) }
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, hydrationBackoff: .milliseconds(20)), hydrator: OneBroken(guild))
        grant(buffer, user: 1, second: 0, xp: 30)
        for (user, other) in others.enumerated() { buffer.record(guild: other.rawValue) { $0.countMessage(by: UInt64(user)) } }
        try await waitUntil("every other guild in", timeout: .seconds(10)) {
            _ = await flusher.flush()
            try await Task.sleep(for: .milliseconds(25))
            for (user, other) in others.enumerated() where try await StatsReader(redis: redis, keys: keys).member(UserID(UInt64(user)), in: other) == nil {
                return false
            }
            return true
        }
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild) == nil, "the broken guild still waits")
        #expect(buffer.unacknowledged == 2)
        await redis.close()
    }
}

/// Redis's `TIME`, read with nothing trusted: a reply no server gives is an error, not a trap.
struct RedisTimeReplyTests {
    static func time(_ seconds: String, _ microseconds: String) -> RedisValue {
        .array([.bulk(Array(seconds.utf8)), .bulk(Array(microseconds.utf8))])
    }

    @Test func aTimeNoServerGivesIsRefused() throws {
        #expect(try Checkpointer.milliseconds(fromTime: Self.time("1764547200", "123456")) == 1_764_547_200_123)
        for (seconds, microseconds) in [("9223372036854775807", "0"), ("-9223372036854775808", "0"), ("1764547200", "-5"), ("1764547200", "1000000")] {
            #expect(throws: RedisError.self) { try Checkpointer.milliseconds(fromTime: Self.time(seconds, microseconds)) }
        }
    }
}
