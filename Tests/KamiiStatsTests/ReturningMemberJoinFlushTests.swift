import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// A returning member's join goes with their profile into the flush, which keeps it in Redis (the
/// guild's joins hash, marked with the flush's id) until the rewarder has carried it out: a
/// crash or a restart in between loses none. A newcomer's join is neither kept nor reported.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct ReturningMemberJoinFlushTests {
    let guild = GuildID((UInt64.random(in: 1...(1 << 40))) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// Joined a day after the XP ``leveled(_:)`` grants: a return.
    func profile(restoresRewards: Bool, joinedAt: UInt64 = 1_735_776_000_000) -> MemberProfile {
        MemberProfile(hasAvatar: true, joinedAt: joinedAt, isPending: false, isVerified: nil, trust: 50, restoresRewards: restoresRewards)
    }

    /// Member 1 at level 2 (300 XP), member 3 at level 1 (150 XP).
    func leveled(_ redis: RedisClient) async throws -> (StatsBuffer, StatsFlusher) {
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        buffer.record(guild: guild.rawValue) { batch in
            batch.grant(.init(user: 1, messageTime: 1_735_689_600_000, xp: 300), cooldownMilliseconds: 60_000)
            batch.grant(.init(user: 3, messageTime: 1_735_689_600_000, xp: 150), cooldownMilliseconds: 60_000)
        }
        #expect(await flusher.flush())
        return (buffer, flusher)
    }

    @Test func aReturningMembersJoinWaitsInRedisAndIsReported() async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)
        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(profile(restoresRewards: true), of: 1)  // came back
            batch.setProfile(profile(restoresRewards: true), of: 2)  // a newcomer
            batch.setProfile(profile(restoresRewards: false), of: 3)  // a member update, no join
        }
        #expect(await flusher.flush())
        let waiting = try await redis.send("HKEYS", keys.waitingJoins(in: guild)).array?.compactMap(\.string)
        #expect(waiting == ["1"], "member 1 (level 2) waits; nothing for the newcomer or the update")
        var joins = flusher.joins.makeAsyncIterator()
        let reported = try #require(await joins.next())
        #expect(reported.guild == guild && reported.user == UserID(1) && reported.mark != nil)
        #expect(await flusher.totals.joins == 1)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(2), in: guild)?.trust == 50, "the newcomer's profile is applied")
        #expect(try await LevelUpBacklog(redis: redis, keys: keys).waitingJoins() == [reported], "kept with its flush's mark")

        try await LevelUpBacklog(redis: redis, keys: keys).joinsDone([MemberJoin(guild: guild, user: UserID(1))])
        #expect(try await redis.send("EXISTS", keys.waitingJoins(in: guild)).int == 0)
        await redis.close()
    }

    /// Discord may send GUILD_MEMBER_ADD again for a member who never left: the same `joined_at`
    /// as their record's is that membership, owed nothing (a reward a moderator took stays taken),
    /// and so is one from before the last XP their record counts — they earned it as a member
    /// since — when the record holds no join time (a member from before the bot). Another one than
    /// the record's is a return (even one the bot missed, told again after the member posted); one
    /// that says no time, too.
    @Test func aJoinAnnouncedAgainIsNotAReturn() async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)  // their last XP at 1_735_689_600_000
        func join(_ joinedAt: UInt64) -> MemberProfile {
            MemberProfile(hasAvatar: true, joinedAt: joinedAt, isPending: false, isVerified: nil, trust: 50, restoresRewards: true)
        }
        let waiting = { try await redis.send("HKEYS", self.keys.waitingJoins(in: self.guild)).array?.compactMap(\.string).sorted() ?? [] }
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(join(1_735_000_000_000), of: 1)  // before their XP
            batch.setProfile(join(1_735_689_600_000), of: 3)  // at it
        }
        #expect(await flusher.flush())
        #expect(try await waiting().isEmpty, "joined before (or when) they earned what they hold: the same membership")

        let rejoined: UInt64 = 1_735_776_000_000
        buffer.record(guild: guild.rawValue) { $0.setProfile(join(rejoined), of: 1) }
        #expect(await flusher.flush())
        #expect(try await waiting() == ["1"], "joined after their last XP: a return")
        try await backlog.joinsDone([MemberJoin(guild: guild, user: UserID(1))])

        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(join(rejoined), of: 1)
            batch.setProfile(join(0), of: 3)
        }
        #expect(await flusher.flush())
        #expect(try await waiting() == ["3"], "member 1 announced again; member 3's join says no time: a return")
        try await backlog.joinsDone([MemberJoin(guild: guild, user: UserID(3))])

        // Posted, left and came back within one flush: judged on the record before the batch.
        buffer.record(guild: guild.rawValue) { batch in
            batch.grant(.init(user: 1, messageTime: rejoined + 3_600_000, xp: 20), cooldownMilliseconds: 60_000)
            batch.setProfile(join(rejoined + 7_200_000), of: 1)
            batch.grant(.init(user: 1, messageTime: rejoined + 10_800_000, xp: 20), cooldownMilliseconds: 60_000)
        }
        #expect(await flusher.flush())
        #expect(try await waiting() == ["1"], "left and came back after their last XP")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.joinedAt == rejoined + 7_200_000)
        try await backlog.joinsDone([MemberJoin(guild: guild, user: UserID(1))])

        // A return missed (the bot away), and the member posting since: a joined_at other than the
        // one the record holds is still a return, earlier than their last XP though it is.
        buffer.record(guild: guild.rawValue) { $0.grant(.init(user: 3, messageTime: rejoined + 86_400_000, xp: 20), cooldownMilliseconds: 60_000) }
        #expect(await flusher.flush())
        buffer.record(guild: guild.rawValue) { $0.setProfile(join(rejoined + 3_600_000), of: 3) }
        #expect(await flusher.flush())
        #expect(try await waiting() == ["3"], "a missed return, told again")
        await redis.close()
    }

    /// A flush sent again after its reply was lost finds its batch applied, join and all: the
    /// join was not reported, so its guild is named for the rewarder to look at Redis — a join or
    /// the end of a member's screening alike.
    @Test(arguments: [false, true])
    func aJoinWhoseReplyWasLostNamesItsGuild(endingScreening: Bool) async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)
        if endingScreening {
            buffer.record(guild: guild.rawValue) { batch in
                batch.setProfile(MemberProfile(hasAvatar: true, joinedAt: 1, isPending: true, isVerified: nil, trust: 50), of: 3)
            }
            #expect(await flusher.flush())
        }
        var batch = GuildStatsBatch()
        batch.setProfile(
            endingScreening
                ? MemberProfile(hasAvatar: true, joinedAt: 0, isPending: false, isVerified: nil, trust: 50, endsScreening: true)
                : profile(restoresRewards: true), of: 3)
        var flush = PendingFlush(id: "test-join", batches: [guild.rawValue: batch], keys: keys, guildsPerCall: 1)
        let pipeline = flush.pipeline(scriptHash: try await redis.load(StatsFlushScript.script))
        _ = try await redis.execute(pipeline)
        let settled = flush.settle(try await redis.execute(pipeline))
        #expect(settled.appliedEarlier == [guild.rawValue] && settled.joins.isEmpty)
        #expect(try await redis.send("HGET", keys.waitingJoins(in: guild), "3").string == "test-join", "kept with the flush's id")
        await redis.close()
    }

    /// An update that says a member is not pending is their join when their record says they
    /// joined pending — they passed Membership Screening, however long after — and only then, once.
    @Test func theEndOfScreeningIsAJoinWhereTheRecordSaysPending() async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)
        let passed = MemberProfile(hasAvatar: true, joinedAt: 0, isPending: false, isVerified: nil, trust: 50, endsScreening: true)
        buffer.record(guild: guild.rawValue) { batch in
            // Member 1 came back pending screening: no join yet.
            batch.setProfile(MemberProfile(hasAvatar: true, joinedAt: 1_735_689_600_000, isPending: true, isVerified: nil, trust: 50), of: 1)
        }
        #expect(await flusher.flush())
        #expect(try await redis.send("EXISTS", keys.waitingJoins(in: guild)).int == 0)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.isPending == true)

        // Both pass (as far as the updates say); only member 1 had joined pending.
        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(passed, of: 1)
            batch.setProfile(passed, of: 3)
        }
        #expect(await flusher.flush())
        #expect(try await redis.send("HKEYS", keys.waitingJoins(in: guild)).array?.compactMap(\.string) == ["1"])
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(1), in: guild)?.isPending == false)

        try await LevelUpBacklog(redis: redis, keys: keys).joinsDone([MemberJoin(guild: guild, user: UserID(1))])
        buffer.record(guild: guild.rawValue) { $0.setProfile(passed, of: 1) }
        #expect(await flusher.flush())
        #expect(try await redis.send("EXISTS", keys.waitingJoins(in: guild)).int == 0, "once")
        await redis.close()
    }

    /// A join marked done goes only while Redis holds that join: a member who left and came back
    /// meanwhile has a newer one, which stays; one back pending screening owes nothing until they
    /// pass, and an older join or level-up of theirs still waiting goes.
    @Test func aJoinMarkedDoneLeavesANewerOneAndAPendingReturnClearsIt() async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        buffer.record(guild: guild.rawValue) { $0.setProfile(profile(restoresRewards: true), of: 1) }
        #expect(await flusher.flush())
        let first = try await backlog.waitingJoins()
        // Left and came back: a later joined_at.
        buffer.record(guild: guild.rawValue) { $0.setProfile(profile(restoresRewards: true, joinedAt: 1_735_862_400_000), of: 1) }
        #expect(await flusher.flush())
        try await backlog.joinsDone(first)
        let left = try await backlog.waitingJoins()
        #expect(left.map(\.user) == [UserID(1)] && left != first, "the newer join waits")

        #expect(try await backlog.waiting().map(\.user.rawValue).sorted() == [1, 3], "members 1's and 3's level-ups wait too")
        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(MemberProfile(hasAvatar: true, joinedAt: 1_735_689_600_000, isPending: true, isVerified: nil, trust: 50), of: 1)
        }
        #expect(await flusher.flush())
        #expect(try await backlog.waitingJoins().isEmpty, "back pending: nothing owed until they pass")
        #expect(try await backlog.waiting().map(\.user.rawValue) == [3], "member 1's level-up goes; 3's stays")
        await redis.close()
    }

    /// A member deleted (a privacy request) while their join waited to be flushed gets none of it,
    /// and the member after them in the flush's bytes is read right.
    @Test func aDeletedMembersJoinIsLeftOutAndTheNextMemberReadRight() async throws {
        let redis = try RedisTestServer.client()
        let (buffer, flusher) = try await leveled(redis)
        buffer.record(guild: guild.rawValue) { batch in
            batch.setProfile(profile(restoresRewards: true), of: 1)
            batch.grant(.init(user: 3, messageTime: 1_735_689_700_000, xp: 40), cooldownMilliseconds: 60_000)
            batch.setProfile(profile(restoresRewards: true), of: 3)
        }
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(UserID(1)) == 1)
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(1), in: guild) == nil)
        #expect(try await reader.member(UserID(3), in: guild)?.xp == 190)
        #expect(try await redis.send("HKEYS", keys.waitingJoins(in: guild)).array?.compactMap(\.string) == ["3"])
        await redis.close()
    }
}
