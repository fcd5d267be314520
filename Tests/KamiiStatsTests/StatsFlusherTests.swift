import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

@Suite(.enabled(if: RedisTestServer.isConfigured))
struct StatsFlusherTests {
    let guild = GuildID((UInt64.random(in: 1...(1 << 40))) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    func member(_ user: UInt64, _ redis: RedisClient, in guild: GuildID? = nil) async throws -> MemberRecord? {
        try await StatsReader(redis: redis, keys: keys).member(UserID(user), in: guild ?? self.guild)
    }

    func grant(_ buffer: StatsBuffer, user: UInt64, second: UInt64, xp: Int, message: Bool = true, cooldown: UInt64 = 60_000) {
        buffer.record(guild: guild.rawValue) { batch in
            if message { batch.countMessage(by: user) }
            batch.grant(.init(user: user, messageTime: 1_735_689_600_000 + second * 1_000, xp: xp), cooldownMilliseconds: cooldown)
        }
    }

    /// What the change journal names: guild → users.
    func journal(_ redis: RedisClient) async throws -> [UInt64: Set<UInt64>] {
        var members: [UInt64: Set<UInt64>] = [:]
        for entry in try await redis.send("HVALS", keys.changeJournal).array ?? [] {
            #expect(ChangeJournal.read(try #require(entry.bytes), into: &members))
        }
        return members
    }

    @Test func aFlushWritesCountersLeaderboardsTheJournalAndLevelUps() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        grant(buffer, user: 1, second: 0, xp: 60)
        grant(buffer, user: 1, second: 61, xp: 50)
        grant(buffer, user: 1, second: 90, xp: 25)  // inside the cooldown of the one before: refused by Redis
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: 2); $0.giveKarma(to: 2, count: 3) }
        #expect(await flusher.flush())

        let first = try #require(try await member(1, redis))
        #expect(first == MemberRecord(xp: 110, level: 1, messages: 3, xpMessages: 2, lastXPAt: 1_735_689_661_000))
        #expect(try await member(2, redis) == MemberRecord(messages: 1, karma: 3))
        let stored = try #require(try await redis.send("HGET", keys.members(in: guild), "2").bytes)
        #expect(stored.count == 43 && stored[0] == 1, "the stored form: version 1, binary")
        #expect(stored == MemberRecord(messages: 1, karma: 3).stored)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), "1").int == 110)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), "2").int == 3)
        #expect(try await journal(redis) == [guild.rawValue: [1, 2]], "both members named for the checkpointer")
        #expect(try await redis.send("HLEN", keys.changeJournal).int == 1, "one entry per round trip")
        #expect(try await redis.send("EXISTS", keys.dirtyMembers(in: guild)).int == 0, "karma of a member of the batch: no dirty set")
        #expect(try await redis.send("SISMEMBER", keys.dirtyGuilds, String(guild.rawValue)).int == 1, "a guild with karma reactions")
        var levelUps = flusher.levelUps.makeAsyncIterator()
        #expect(await levelUps.next() == LevelUp(guild: guild, user: UserID(1), from: 0, to: 1))
        #expect(try await redis.send("HGET", keys.waitingLevelUps(in: guild), "1").string == "0:1", "waits until carried out")
        let totals = await flusher.totals
        #expect(totals.grantsApplied == 2 && totals.deltas == 10 && totals.guildBatches == 1)
        #expect(buffer.unacknowledged == 0)
        await redis.close()
    }

    @Test(arguments: [1, 2])
    func aBatchSentTwiceIsAppliedOnce(guildsPerCall: Int) async throws {
        let redis = try RedisTestServer.client()
        var batch = GuildStatsBatch()
        batch.countMessage(by: 5)
        batch.grant(.init(user: 5, messageTime: 1_000_000, xp: 20), cooldownMilliseconds: 60_000)
        batch.giveKarma(to: 5)
        let other = GuildID(guild.rawValue + (1 << 22))
        var flush = PendingFlush(id: "test-1", batches: [guild.rawValue: batch, other.rawValue: batch], keys: keys, guildsPerCall: guildsPerCall)
        let sha = try await redis.load(StatsFlushScript.script)
        let pipeline = flush.pipeline(scriptHash: sha)
        // The same bytes twice: what a flush retried after a lost reply sends.
        let firstReplies = try await redis.execute(pipeline)
        let secondReplies = try await redis.execute(pipeline)
        let once: [RedisValue] = [.integer(1), .integer(0)], again: [RedisValue] = [.integer(-1), .integer(0)]
        // The script calls' replies (inside EXEC's on a single Redis); then the journal's and the
        // guild list's.
        let calls = guildsPerCall == 1 ? 2 : 1
        let commands = { (replies: [RedisValue]) in guildsPerCall == 1 ? replies : replies.last?.array ?? [] }
        #expect(commands(firstReplies).count == calls + 2)
        #expect(commands(firstReplies).prefix(calls).flatMap { $0.array ?? [] } == once + once)
        #expect(commands(secondReplies).prefix(calls).flatMap { $0.array ?? [] } == again + again)
        for guild in [guild, other] {
            #expect(try await member(5, redis, in: guild) == MemberRecord(messages: 1, xpMessages: 1, lastXPAt: 1_000_000, karma: 1).with(xp: 20))
        }
        let settled = flush.settle(secondReplies)
        #expect(settled.deltas == 6)
        #expect(settled.appliedEarlier.sorted() == [guild.rawValue, other.rawValue], "their level-ups, if any, went unreported")
        await redis.close()
    }

    /// A deletion time Kamii did not write (a value edited by hand) counts as late, as the
    /// checkpointer takes it: the member's changes are left out rather than let through.
    @Test func aDeletionTimeThatIsNotANumberCountsAsLate() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        grant(buffer, user: 7, second: 10, xp: 18)
        #expect(await flusher.flush())
        try await redis.send("HSET", keys.members(in: guild), StatsKeys.deletedField, "not-a-time")
        try await redis.send("HSET", keys.deletions(in: guild), "8", "not-a-time")
        grant(buffer, user: 7, second: 100, xp: 20)
        grant(buffer, user: 8, second: 100, xp: 22)
        #expect(await flusher.flush())
        #expect(try await member(7, redis)?.xp == 38)
        #expect(try await member(8, redis) == nil)
        await redis.close()
    }

    /// Level-ups nobody reads past the stream's 10,000 are not lost without a word: their guilds
    /// are named, to be looked up in Redis's waiting list.
    @Test func levelUpsTheStreamCannotHoldAreNamed() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let named = Locked<[GuildID]>([])
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys), onUnreportedLevelUps: { guilds in named.withLock { $0 += guilds } })
        for user in 1...10_000 as ClosedRange<UInt64> { grant(buffer, user: user, second: 0, xp: 100) }
        #expect(await flusher.flush())
        #expect(named.value.isEmpty, "10,000 held")
        grant(buffer, user: 10_001, second: 0, xp: 100)
        #expect(await flusher.flush())
        #expect(named.value == [guild])
        #expect(try await redis.send("HLEN", keys.waitingLevelUps(in: guild)).int == 10_001, "every one waits in Redis")
        await redis.close()
    }

    /// With the default cooldown and with none (the script counts at least 1 ms).
    @Test(arguments: [60_000, 0] as [UInt64])
    func aReplayedMessageNeverEarnsTwice(cooldown: UInt64) async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        grant(buffer, user: 7, second: 10, xp: 18, cooldown: cooldown)
        #expect(await flusher.flush())
        // After a crash the restarted process sees the message again and, remembering nothing, grants it again.
        grant(buffer, user: 7, second: 10, xp: 18, message: false, cooldown: cooldown)
        grant(buffer, user: 8, second: 10, xp: 22, cooldown: cooldown)
        #expect(await flusher.flush())
        #expect(try await member(7, redis)?.xp == 18)
        #expect(try await member(8, redis)?.xp == 22)
        #expect(await flusher.totals.grantsApplied == 2)
        await redis.close()
    }

    /// Level-ups wait in Redis until marked done, merged per member, so a restart finds what a
    /// crash left; marking an older level-up done leaves the newer levels waiting, and the newer
    /// level-up's report, once done, clears them (a restart carries out nothing again).
    @Test func levelUpsWaitUntilDone() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        grant(buffer, user: 6, second: 0, xp: 120)
        #expect(await flusher.flush())
        grant(buffer, user: 6, second: 100, xp: 200)
        #expect(await flusher.flush())
        let waiting = try await backlog.waiting().filter { $0.guild == guild }
        #expect(waiting == [LevelUp(guild: guild, user: UserID(6), from: 0, to: 2)], "1 then 2, merged")
        try await backlog.done([LevelUp(guild: guild, user: UserID(6), from: 0, to: 1)])
        #expect(try await backlog.waiting().filter { $0.guild == guild } == [LevelUp(guild: guild, user: UserID(6), from: 1, to: 2)], "a newer level still waits")
        try await backlog.done([LevelUp(guild: guild, user: UserID(6), from: 0, to: 1)])
        #expect(try await backlog.waiting().filter { $0.guild == guild }.count == 1, "marked done twice: nothing more of it carried out")
        try await backlog.done([LevelUp(guild: guild, user: UserID(6), from: 1, to: 2)])
        #expect(try await backlog.waiting().filter { $0.guild == guild }.isEmpty)
        await redis.close()
    }

    /// What a member event says reaches the record through the packed changes: avatar, joined,
    /// pending, verified, and trust while the record has none (a checkpoint's, counting activity and
    /// karma, is kept over a later event's). An event that does not say when the member joined
    /// (`joined_at` null), or whether they passed screening (no `pending`), leaves what is known.
    @Test func aMembersProfileReachesTheirRecord() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let joined: UInt64 = 1_735_689_600_123
        buffer.record(guild: guild.rawValue) {
            $0.setProfile(MemberProfile(hasAvatar: true, joinedAt: joined, isPending: true, isVerified: false, trust: 42), of: 9)
        }
        #expect(await flusher.flush())
        #expect(try await member(9, redis) == MemberRecord(trust: 42, hasAvatar: true, joinedAt: joined, isPending: true, isVerified: false))
        buffer.record(guild: guild.rawValue) {
            $0.setProfile(MemberProfile(hasAvatar: false, joinedAt: 0, isPending: nil, isVerified: nil, trust: 10), of: 9)
        }
        #expect(await flusher.flush())
        #expect(
            try await member(9, redis) == MemberRecord(trust: 42, hasAvatar: false, joinedAt: joined, isPending: true, isVerified: false),
            "an event without `pending`, or whose verification could not be judged, leaves both as they were")
        buffer.record(guild: guild.rawValue) {
            $0.setProfile(MemberProfile(hasAvatar: false, joinedAt: 0, isPending: false, isVerified: true, trust: 10), of: 9)
        }
        #expect(await flusher.flush())
        #expect(try await member(9, redis) == MemberRecord(trust: 42, hasAvatar: false, joinedAt: joined, isPending: false, isVerified: true))
        await redis.close()
    }

    /// Records in the text form earlier versions wrote are read (nothing lost on an upgrade) and
    /// written back binary by the next flush that touches them.
    @Test func textRecordsOfEarlierVersionsAreReadAndUpgraded() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        try await redis.send("HSET", keys.members(in: guild), "7", "100:1:5:4:1735689600000:-2:60:1:1700000000000:0:1", "8", "30:0:2:1::4:::::")
        try await redis.send("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        grant(buffer, user: 7, second: 30, xp: 20)  // inside the cooldown the text record holds: refused
        grant(buffer, user: 7, second: 120, xp: 25)
        buffer.record(guild: guild.rawValue) { $0.giveKarma(to: 8) }  // karma alone: the ledger's receivers
        #expect(await flusher.flush())
        #expect(try await member(7, redis) == MemberRecord(
            xp: 125, level: 1, messages: 7, xpMessages: 5, lastXPAt: 1_735_689_720_000, karma: -2, trust: 60, hasAvatar: true,
            joinedAt: 1_700_000_000_000, isPending: false, isVerified: true))
        #expect(try await member(8, redis) == MemberRecord(xp: 30, messages: 2, xpMessages: 1, karma: 5))
        for user in ["7", "8"] {
            #expect(try await redis.send("HGET", keys.members(in: guild), user).bytes?.first == 1, "written back binary")
        }
        await redis.close()
    }

    /// A guild whose keys are not what Kamii writes (a key overwritten by hand) loses its own batch
    /// and nothing else: the flush succeeds, the other guilds are applied, nothing is retried.
    @Test(arguments: [100, 1])
    func aBrokenGuildFailsAlone(guildsPerCall: Int) async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: guildsPerCall))
        let healthy = GuildID(guild.rawValue + (1 << 22)), unreadable = GuildID(guild.rawValue + (2 << 22))
        try await redis.send("SET", keys.members(in: guild), "not a hash")
        // A record that cannot be read is not overwritten with zeros either.
        try await redis.send("HSET", keys.members(in: unreadable), "4", "1200:not a record")
        // Nor is one of the binary size with a version this Kamii does not know, or one holding NaN.
        let unknownVersion = GuildID(guild.rawValue + (3 << 22)), notFinite = GuildID(guild.rawValue + (4 << 22))
        try await redis.send("HSET", keys.members(in: unknownVersion), "4", String(repeating: "\u{2}", count: 43))
        var nan = MemberRecord(xp: 5).stored
        withUnsafeBytes(of: Double.nan.bitPattern.littleEndian) { nan.replaceSubrange(1..<9, with: $0) }
        var pipeline = RedisPipeline()
        pipeline.beginCommand(arguments: 4)
        pipeline.appendArgument("HSET")
        pipeline.appendArgument(keys.members(in: notFinite))
        pipeline.appendArgument("4")
        pipeline.appendArgument(bytes: nan)
        _ = try await redis.execute(pipeline)
        for target in [guild, healthy, unreadable, unknownVersion, notFinite] {
            buffer.record(guild: target.rawValue) { batch in
                batch.countMessage(by: 4)
                batch.grant(.init(user: 4, messageTime: 1_700_000_000_000, xp: 21), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
        #expect(try await member(4, redis, in: healthy)?.xp == 21)
        #expect(try await redis.send("GET", keys.members(in: guild)).string == "not a hash")
        #expect(try await redis.send("HGET", keys.members(in: unreadable), "4").string == "1200:not a record")
        let totals = await flusher.totals
        #expect(totals.brokenGuildBatches == 4 && totals.droppedChanges == 8 && totals.failedAttempts == 0)
        #expect(try await redis.send("HGET", keys.members(in: unknownVersion), "4").string == String(repeating: "\u{2}", count: 43))
        #expect(buffer.unacknowledged == 0)
        // Still broken next time, still alone.
        buffer.record(guild: healthy.rawValue) { $0.countMessage(by: 4) }
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: 4) }
        #expect(await flusher.flush())
        #expect(try await member(4, redis, in: healthy)?.messages == 2)
        #expect(await flusher.totals.brokenGuildBatches == 5)
        await redis.close()
    }

    /// A guild batch of more than a thousand members (a backlog after an outage) goes to Redis a
    /// thousand members at a time, and every member's record is read before it is added to.
    @Test func aGuildWithThousandsOfMembersIsAppliedInParts() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer(capacity: 100_000, flushThreshold: 100_000)
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let users = (UInt64(1)...2_500).map { $0 << 22 }
        for round in 0..<2 {
            buffer.record(guild: guild.rawValue) { batch in
                for user in users {
                    batch.countMessage(by: user)
                    batch.grant(.init(user: user, messageTime: 1_700_000_000_000 + UInt64(round) * 120_000, xp: 20), cooldownMilliseconds: 60_000)
                }
                batch.giveKarma(to: users[2_400])
            }
            #expect(await flusher.flush())
        }
        let records = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(records.count == users.count)
        #expect(records.values.allSatisfy { $0.messages == 2 && $0.xp == 40 && $0.xpMessages == 2 }, "the second flush read every part")
        #expect(records[UserID(users[2_400])]?.karma == 2)
        await redis.close()
    }

    @Test func aBacklogGoesInSeveralRoundTrips() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        // The guild's header, one member id and its changes per guild here: two guilds' scripts per round trip.
        let perGuild = StatsFlushScript.guildHeaderArguments + StatsFlushScript.positionArguments + 2
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: 1, maxArgumentsPerRoundTrip: 2 * perGuild))
        let guilds = (1...20).map { GuildID(guild.rawValue + UInt64($0) << 22) }
        for guild in guilds {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: 3)
                batch.grant(.init(user: 3, messageTime: 1_700_000_000_000, xp: 17), cooldownMilliseconds: 60_000)
            }
        }
        #expect(await flusher.flush())
        let totals = await flusher.totals
        #expect(totals.guildBatches == 20 && totals.flushes == 1 && buffer.unacknowledged == 0)
        for guild in guilds {
            #expect(try await member(3, redis, in: guild)?.xp == 17)
        }
        // Each round trip names its own guilds' members.
        #expect(try await journal(redis) == Dictionary(uniqueKeysWithValues: guilds.map { ($0.rawValue, Set([3])) }))
        #expect(try await redis.send("HLEN", keys.changeJournal).int == 10)
        await redis.close()
    }

    /// The shards' positions are written with the flush that makes them true: inside its last script
    /// call on a single Redis, right after it on Cluster's one-guild calls.
    @Test(arguments: [100, 1])
    func positionsAreWrittenWithTheFlush(guildsPerCall: Int) async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let sessionKey = keys.prefix + ":session-probe"
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: guildsPerCall),
            durableWrites: { positions in [(sessionKey, "s=\(positions[0]!.sequence)", 60_000)] })
        let slot = buffer.slot(for: guild.rawValue)
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 42)) {
            buffer.record(in: slot) { $0.countMessage(by: 3) }
        }
        #expect(await flusher.flush())
        #expect(try await journal(redis) == [guild.rawValue: [3]])
        #expect(try await redis.send("GET", sessionKey).string == "s=42")
        #expect(try await redis.send("PTTL", sessionKey).int.map { $0 > 0 && $0 <= 60_000 } == true)
        #expect(try await member(3, redis)?.messages == 1)
        await redis.close()
    }

    /// The records a flush vouches for (the shards' sessions) are written only with every guild of
    /// the flush applied: not when Redis refuses a guild (to rehydrate it first), not when the
    /// script is missing inside the transaction.
    @Test func recordsWaitForEveryGuildOfTheFlush() async throws {
        let redis = try RedisTestServer.client()
        var batch = GuildStatsBatch()
        batch.countMessage(by: 4)
        var flush = PendingFlush(
            id: "probe-1", batches: [guild.rawValue: batch], keys: keys, guildsPerCall: 100, positions: [0: ShardPosition(session: 1, sequence: 9)])
        let key = keys.prefix + ":session-probe"
        let records: [DurableWrite] = [(key, "v", 60_000)]

        let missing = flush.settle(try await redis.execute(
            flush.pipeline(scriptHash: String(repeating: "0", count: 40), mustBeLoaded: false, records: records)))
        #expect(missing.scriptMissing && !missing.recordsWritten)
        #expect(try await redis.send("EXISTS", key).int == 0)

        let sha = try await redis.load(StatsFlushScript.script)
        let refused = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        #expect(refused.unloaded == [guild.rawValue] && !refused.recordsWritten)
        #expect(try await redis.send("EXISTS", key).int == 0)

        try await redis.send("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        let applied = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        #expect(applied.recordsWritten && flush.batches.isEmpty)
        #expect(try await redis.send("GET", key).string == "v")
        await redis.close()
    }
}

extension MemberRecord {
    func with(xp: Int) -> MemberRecord {
        var copy = self
        copy.xp = xp
        return copy
    }
}
