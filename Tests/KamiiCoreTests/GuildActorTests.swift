import DiscordModels
import KamiiCore
import KamiiStore
import KamiiTestSupport
import Synchronization
import Testing

struct GuildActorTests {
    typealias D = TestDispatches

    /// A clock the test moves by hand (karma cooldowns, idle eviction).
    final class ManualClock: Sendable {
        let now = Atomic<UInt64>(1_000)
        var read: @Sendable () -> UInt64 { { [self] in now.load(ordering: .relaxed) } }
        func advance(_ milliseconds: UInt64) { now.add(milliseconds, ordering: .relaxed) }
        func set(_ milliseconds: UInt64) { now.store(milliseconds, ordering: .relaxed) }
    }

    func router(
        _ settings: GuildSettings = .defaults, capacity: Int = 1_000, clock: ManualClock = ManualClock(),
        wallClock: @escaping @Sendable () -> UInt64 = GuildRouter.unixMilliseconds
    ) -> GuildRouter {
        GuildRouter(stats: StatsBuffer(capacity: capacity), settings: FixedGuildSettings(settings), clock: clock.read, wallClock: wallClock)
    }

    /// The wall clock of the karma tests: when a reaction that gives was received.
    static let receivedAt: UInt64 = 1_764_000_000_000

    func batch(_ router: GuildRouter) -> GuildStatsBatch {
        router.stats.take()[D.guild] ?? GuildStatsBatch()
    }

    /// Past its first cooldown (the guild's first message, by member 1, a hundred seconds
    /// earlier; its batch taken): an actor that knows every cooldown Redis may hold.
    func warmed(_ router: GuildRouter) async -> GuildRouter {
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 1))
        _ = router.stats.take()
        return router
    }

    @Test func aMemberEarnsOncePerCooldownByMessageTime() async throws {
        let router = await warmed(router())
        for (second, author) in [(100, 10), (130, 10), (159, 11), (161, 10), (225, 10), (230, 11)] as [(UInt64, UInt64)] {
            await router.route(D.message(id: D.messageID(atSecond: second), author: author))
        }
        let batch = batch(router)
        #expect(batch.messages == [10: 4, 11: 2])
        let grants = batch.grants.map { [$0.user, ($0.messageTime - 1_735_689_600_000) / 1_000] }
        #expect(grants == [[10, 100], [11, 159], [10, 161], [10, 225], [11, 230]])
        for grant in batch.grants {
            let id = try #require([100, 159, 161, 225, 230].map { D.messageID(atSecond: $0) }.first { MessageID($0).unixMilliseconds == grant.messageTime })
            #expect(grant.xp == XPRules.roll(messageID: id, minimum: 15, maximum: 25))
        }
        #expect(batch.cooldownMilliseconds == 60_000)
        #expect(router.counters.grants == 6 && router.counters.messages == 7, "the warming message's included")
    }

    /// A fresh actor (a restart) cannot know the last XP Redis holds from before its first message:
    /// until a cooldown (and the order skew) past that message, a member it has not seen is in
    /// doubt, and their messages go to Redis as grants it re-checks — holding one back might lose
    /// XP Redis would give. A member in doubt is known again at their first message a cooldown
    /// after their last one sent; a member first seen after that window is known at once.
    @Test func aFreshActorLetsRedisJudgeMembersItCannotKnow() async throws {
        let router = router()
        let messages: [(UInt64, UInt64)] = [(0, 10), (30, 10), (80, 11), (95, 10), (100, 11), (120, 10), (160, 10)]
        for (second, author) in messages {
            await router.route(D.message(id: D.messageID(atSecond: second), author: author))
        }
        let grants = batch(router).grants.map { [$0.user, ($0.messageTime - 1_735_689_600_000) / 1_000] }
        // 0 and 30: in doubt. 80: first seen past the window (0 + 10 s + 60 s). 95: a cooldown after
        // 30, so known. 100 and 120: cooling down. 160: a cooldown after 95.
        #expect(grants == [[10, 0], [10, 30], [11, 80], [10, 95], [10, 160]])
    }

    @Test func botsWebhooksAndSystemMessagesAreNotCounted() async {
        var config = GuildConfig()
        config.xp.noXPChannels = [ChannelID(701)]
        let router = router(GuildSettings(config))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 20, bot: true))
        await router.route(D.message(id: D.messageID(atSecond: 1), author: 21, webhook: true))
        await router.route(D.message(id: D.messageID(atSecond: 2), author: 22, type: 7))
        await router.route(D.message(id: D.messageID(atSecond: 3), author: 23, channel: 701))
        let batch = batch(router)
        #expect(batch.grants.isEmpty)
        #expect(batch.messages == [23: 1], "a member's message in a no-XP channel counts, earning nothing")
    }

    @Test func rolesAreReadOnlyWhenARuleNeedsThem() async {
        var config = GuildConfig()
        config.xp.noXPRoles = [RoleID(77)]
        config.xp.roleMultipliers = [RoleID(78): 2]
        let router = router(GuildSettings(config))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 30, roles: [77]))
        await router.route(D.message(id: D.messageID(atSecond: 0, increment: 1), author: 31, roles: [78]))
        let batch = batch(router)
        let id = D.messageID(atSecond: 0, increment: 1)
        #expect(batch.grants.map(\.user) == [31])
        #expect(batch.grants.first?.xp == 2 * XPRules.roll(messageID: id, minimum: 15, maximum: 25))
    }

    /// @everyone (the role whose ID is the guild's) is held by every member, though no member's
    /// role list names it: a rule on it applies to all, and the highest multiplier still wins.
    @Test func aRuleOnEveryoneAppliesToEveryMember() async {
        var config = GuildConfig()
        config.xp.roleMultipliers = [RoleID(D.guild): 2, RoleID(78): 3]
        let router = router(GuildSettings(config))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 30))
        await router.route(D.message(id: D.messageID(atSecond: 0, increment: 1), author: 31, roles: [78]))
        let grants = batch(router).grants
        #expect(grants.map(\.xp) == [
            2 * XPRules.roll(messageID: D.messageID(atSecond: 0), minimum: 15, maximum: 25),
            3 * XPRules.roll(messageID: D.messageID(atSecond: 0, increment: 1), minimum: 15, maximum: 25),
        ])
        config.xp.noXPRoles = [RoleID(D.guild)]
        let excluded = self.router(GuildSettings(config))
        await excluded.route(D.message(id: D.messageID(atSecond: 0), author: 30))
        let excludedBatch = batch(excluded)
        #expect(excludedBatch.grants.isEmpty && excludedBatch.messages == [30: 1])
    }

    /// A 0× channel counts the message and earns nothing, and starts no cooldown: the member's
    /// next message elsewhere earns.
    @Test func aMessageThatWouldEarnZeroStartsNoCooldown() async {
        var config = GuildConfig()
        config.xp.channelMultipliers = [ChannelID(702): 0]
        let router = router(GuildSettings(config))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 40, channel: 702))
        await router.route(D.message(id: D.messageID(atSecond: 30), author: 40))
        let batch = batch(router)
        #expect(batch.messages == [40: 2])
        #expect(batch.grants.map(\.user) == [40] && batch.grants.allSatisfy { $0.xp > 0 })
    }

    @Test func aJoinRecordsTheMembersProfileAndTrust() async throws {
        var config = GuildConfig()
        config.verifiedRole = RoleID(900)
        let now: UInt64 = 1_767_225_600_000
        let router = GuildRouter(stats: StatsBuffer(), settings: FixedGuildSettings(GuildSettings(config)), wallClock: { now })
        let newAccount = UserID(unixMilliseconds: now - 3_600_000).rawValue
        let joined = "2025-12-31T23:58:00.000000+00:00"
        for (user, avatar, roles, bot) in [(newAccount, "null", "[]", false), (UInt64(42) << 22, #""abc""#, #"["900"]"#, false), (UInt64(43) << 22, "null", "[]", true)] {
            await router.route(D.dispatch("GUILD_MEMBER_ADD", """
                {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":\(avatar),"bot":\(bot)},"roles":\(roles),\
                "joined_at":"\(joined)","pending":false}
                """))
        }
        let profiles = batch(router).profiles
        #expect(profiles.count == 2, "bots get no trust")
        let fresh = try #require(profiles[newAccount])
        #expect(!fresh.hasAvatar && fresh.isVerified == false && fresh.joinedAt == now - 120_000)
        #expect(fresh.trust == TrustFactor.score(.init(accountCreatedAt: now - 3_600_000, hasAvatar: false, joinedAt: now - 120_000), now: now).value)
        let verified = try #require(profiles[UInt64(42) << 22])
        #expect(verified.hasAvatar && verified.isVerified == true && verified.trust > fresh.trust)
    }

    /// Two events of a member in one flush: what the later leaves unsaid (`pending`, `joined_at`)
    /// is kept from the earlier, so a join's `pending: true` is not lost to an update without it.
    @Test func aLaterMemberEventKeepsWhatItDoesNotSay() async throws {
        let router = router()
        let user = UInt64(44) << 22
        await router.route(D.dispatch("GUILD_MEMBER_ADD", """
            {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":null},"roles":[],\
            "joined_at":"2025-12-31T23:58:00.000000+00:00","pending":true}
            """))
        await router.route(D.dispatch("GUILD_MEMBER_UPDATE", """
            {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":"abc"},"roles":[],"joined_at":null}
            """))
        let profile = try #require(batch(router).profiles[user])
        #expect(profile.hasAvatar && profile.isPending == true && profile.joinedAt == 1_767_225_480_000)
    }

    /// Joins are reported only where level rewards may be owed again — or may be, the guild's
    /// configuration refused (the rewarder holds them until a valid one says) — and never for bots.
    @Test func joinsAreReportedWhereRewardsExist() async {
        var config = GuildConfig()
        config.xp.levelRewards = [.init(level: 5, role: RoleID(1 << 30))]
        for (settings, expected) in [(GuildSettings(config), [UInt64(42) << 22]), (.defaults, []), (.refused, [UInt64(42) << 22])] {
            let router = GuildRouter(stats: StatsBuffer(), settings: FixedGuildSettings(settings))
            for (user, bot) in [(UInt64(42) << 22, false), (UInt64(43) << 22, true)] {
                await router.route(D.dispatch("GUILD_MEMBER_ADD", """
                    {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":null,"bot":\(bot)},"roles":[],\
                    "joined_at":"2025-12-31T23:58:00.000000+00:00"}
                    """))
            }
            let reported = batch(router).profiles.filter(\.value.restoresRewards).keys.sorted()
            #expect(reported == expected)
        }
    }

    /// A member who joins pending Membership Screening is no join yet — a role given before they
    /// pass would let them skip it —; an update that says a member is not pending may end it (the
    /// flush judges that against the record, which says whether they joined pending). One who
    /// joins not pending (or in a guild without screening) is a join at once.
    @Test func aJoinPendingScreeningWaitsForAnUpdateThatEndsIt() async {
        var config = GuildConfig()
        config.xp.levelRewards = [.init(level: 5, role: RoleID(1 << 30))]
        let router = GuildRouter(stats: StatsBuffer(), settings: FixedGuildSettings(GuildSettings(config)))
        let (screened, direct) = (UInt64(42) << 22, UInt64(44) << 22)
        // Each event's batch taken on its own: what each event alone says.
        var said: [String] = []
        func member(_ event: String, _ user: UInt64, pending: String) async {
            await router.route(D.dispatch(event, """
                {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":null},"roles":[],\
                "joined_at":"2025-12-31T23:58:00.000000+00:00"\(pending)}
                """))
            let profile = batch(router).profiles[user]
            said.append("\(profile?.restoresRewards == true ? "join" : "")\(profile?.endsScreening == true ? "ends" : "")")
        }
        await member("GUILD_MEMBER_ADD", screened, pending: #","pending":true"#)
        await member("GUILD_MEMBER_UPDATE", screened, pending: #","pending":true"#)
        await member("GUILD_MEMBER_UPDATE", screened, pending: "")
        await member("GUILD_MEMBER_UPDATE", screened, pending: #","pending":false"#)
        await member("GUILD_MEMBER_ADD", direct, pending: #","pending":false"#)
        await member("GUILD_MEMBER_ADD", direct, pending: "")
        #expect(said == ["", "", "", "ends", "join", "join"])
    }

    /// Two events of a member in one flush: a pending join then the update that ends it are a join;
    /// a join pending again after them (the member left and came back) is none, until its own end.
    @Test func aPendingJoinAndItsEndInOneBatchAreAJoin() {
        let pending = MemberProfile(hasAvatar: false, joinedAt: 1, isPending: true, isVerified: nil, trust: 10)
        let passed = MemberProfile(hasAvatar: false, joinedAt: 0, isPending: false, isVerified: nil, trust: 20, endsScreening: true)
        let joined = MemberProfile(hasAvatar: false, joinedAt: 1, isPending: false, isVerified: nil, trust: 20, restoresRewards: true)
        #expect(pending.followed(by: passed).restoresRewards)
        #expect(!passed.followed(by: passed).restoresRewards && passed.followed(by: passed).endsScreening, "the record judges a lone end")
        #expect(!pending.followed(by: passed).followed(by: pending).restoresRewards)
        #expect(!pending.followed(by: passed).followed(by: pending).endsScreening)
        #expect(!joined.followed(by: pending).restoresRewards, "back pending: no role before they pass")
        #expect(joined.followed(by: passed).restoresRewards)
    }

    @Test func malformedPayloadsAreCountedAndSkipped() async {
        let router = router()
        await router.route(D.dispatch("MESSAGE_CREATE", #"{"id":"12","guild_id":"\#(D.guild)","author":{"id":"x"}}"#))
        await router.route(D.dispatch("GUILD_MEMBER_ADD", #"{"guild_id":"\#(D.guild)","user":[1,2]}"#))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        #expect(router.counters.malformed == 2)
        #expect(batch(router).grants.count == 1)
    }

    @Test func eventsTheHotPathIgnoresAreNotRouted() async {
        let router = router()
        await router.route(D.dispatch("TYPING_START", #"{"user_id":"1","channel_id":"2","guild_id":"\#(D.guild)"}"#))
        await router.route(D.dispatch("PRESENCE_UPDATE", #"{"user":{"id":"1"},"guild_id":"\#(D.guild)"}"#))
        #expect(router.counters.routed == 0)
        #expect(router.activeGuilds == 0)
    }

    @Test func idleGuildActorsAreEvictedAndComeBackOnTheNextEvent() async {
        let clock = ManualClock()
        let router = router(clock: clock)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10, guild: D.guild + (1 << 22)))
        #expect(router.activeGuilds == 2)
        clock.advance(5_000)
        await router.route(D.message(id: D.messageID(atSecond: 1), author: 10))
        #expect(router.evictIdle(olderThan: .seconds(3)) == 1)
        #expect(router.activeGuilds == 1)
        await router.route(D.message(id: D.messageID(atSecond: 2), author: 10, guild: D.guild + (1 << 22)))
        #expect(router.activeGuilds == 2)
    }

    /// An idle actor goes whatever karma it saw: the pair cooldowns are Redis's, so the fresh actor
    /// holds nothing back and the flush judges each reaction by when it was received.
    @Test func anActorGoesWhileAKarmaCooldownRuns() async {
        var config = GuildConfig()
        config.modules.karma = true
        config.karma.cooldownSeconds = 3_600
        let clock = ManualClock()
        let wall = ManualClock()
        wall.set(Self.receivedAt)
        let router = router(GuildSettings(config), clock: clock, wallClock: wall.read)
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2))
        clock.advance(11 * 60_000)
        wall.advance(11 * 60_000)
        #expect(router.evictIdle(olderThan: .seconds(600)) == 1)
        await router.route(D.reaction(added: true, message: 502, giver: 1, author: 2))
        let batch = batch(router)
        #expect(batch.karmaReactions.map(\.message) == [500, 502])
        #expect(batch.karmaReactions.map(\.givenAt) == [Self.receivedAt, Self.receivedAt + 11 * 60_000])
        #expect(batch.karmaCooldownMilliseconds == 3_600_000)
    }

    @Test func anActorActiveDuringTheSweepIsKept() async {
        // The sweep read `now`, then the actor handled an event: its last activity is after `now`.
        let clock = ManualClock()
        let router = router(clock: clock)
        clock.set(10_000)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        clock.set(9_999)
        #expect(router.evictIdle(olderThan: .seconds(1)) == 0)
        #expect(router.activeGuilds == 1)
    }

    @Test func aFullBufferIsNoLongerWaitedForOnceReleased() async throws {
        let router = router(capacity: 2)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        let held = Task { await router.route(D.message(id: D.messageID(atSecond: 0), author: 11)) }
        try await Task.sleep(for: .milliseconds(50))
        #expect(router.counters.messages == 1)
        router.stats.stopHoldingBack()
        await held.value
        #expect(router.counters.messages == 2, "shutting down: the shard may finish its event and close")
    }

    @Test func aMessageCountsWhereXPIsOff() async {
        var config = GuildConfig()
        config.modules.xp = false
        let router = router(GuildSettings(config))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        await router.route(D.message(id: D.messageID(atSecond: 1), author: 20, bot: true))
        let batch = batch(router)
        #expect(batch.messages == [10: 1] && batch.grants.isEmpty)
    }

    @Test func aFullBufferHoldsTheShardBackUntilAFlushIsAcknowledged() async throws {
        let router = router(capacity: 4)
        // Two changes per message that earns XP (a count and a grant): two messages fill it.
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 11))
        #expect(router.stats.unacknowledged == 4)
        let third = Task { await router.route(D.message(id: D.messageID(atSecond: 0), author: 12)) }
        try await Task.sleep(for: .milliseconds(100))
        #expect(router.counters.messages == 2, "the third event waits for room")
        let taken = router.stats.take()
        router.stats.acknowledge(taken.values.reduce(0) { $0 + $1.deltaCount })
        await third.value
        #expect(router.counters.messages == 3)
        #expect(router.stats.unacknowledged == 2)
    }
}
