import DiscordModels
import DiscordREST
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// A returning member whose reward roles could not be given back (Discord unreachable, the
/// settings' database away) gets them at a later retry, not only at their next reward tier.
struct ReturningMemberRetryTests {
    /// Role grants that fail as an unreachable Discord would while `failing` is set.
    final class FlakyRoles: LevelUpActions, Sendable {
        let failing = Locked(true), added = Locked<[UInt64]>([])
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
            if failing.value { throw RESTError(.transport(description: "connection refused")) }
            added.withLock { $0.append(role.rawValue) }
        }
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {}
    }

    struct Levels: MemberLevels {
        func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? { (12, false) }
    }

    @Test func aFailedRestoreIsTriedAgain() async throws {
        let rewards = LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: nil)
        let actions = FlakyRoles()
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions, levels: Levels(),
            retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        try await Self.withRunning(rewarder) { join in
            join.yield(MemberJoin(guild: GuildID(9 << 22), user: UserID(77)))
            try await waitUntil("the first try failed, both roles") { rewarder.totals.failures >= 2 }
            #expect(actions.added.value.isEmpty)
            actions.failing.withLock { $0 = false }
            try await waitUntil("given at a retry") { Set(actions.added.value) == [501, 1_001] }
            #expect(Set(actions.added.value) == [501, 1_001] && rewarder.totals.rolesRestored == 2)
        }
    }

    /// Runs `rewarder` on the joins `body` yields, and ends it after `body` (also when it throws).
    static func withRunning(_ rewarder: LevelUpRewarder, _ body: (AsyncStream<MemberJoin>.Continuation) async throws -> Void) async throws {
        let (joins, join) = AsyncStream<MemberJoin>.makeStream()
        async let running: Void = rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: joins)
        do {
            try await body(join)
        } catch {
            join.finish()
            await running
            throw error
        }
        join.finish()
        await running
    }

    /// Settings refused (``GuildSettings/refused``) while `refused` is set, else rewards at levels
    /// 5 and 10; reads counted.
    final class RefusedUntilSaved: GuildSettingsSource, Sendable {
        let refused = Locked(true), reads = Locked(0)
        func settings(for guild: GuildID) async -> GuildSettings? {
            reads.withLock { $0 += 1 }
            return refused.value ? .refused : Self.valid
        }
        static let valid = GuildSettings(
            xp: .defaults, karma: nil,
            levelRewards: LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: nil))
    }

    /// Level 12 for everyone but `newcomer`, whom Redis has no record of.
    struct LevelsBut: MemberLevels {
        let newcomer: UserID
        func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? { user == newcomer ? nil : (12, false) }
    }

    /// Members who come back while their guild's configuration is refused are held — not tried at
    /// each retry for nothing — and get their roles once an admin saves a valid configuration. A
    /// newcomer, owed nothing whatever it says, is not held. The refusal is read once and kept.
    @Test func membersBackWhileTheConfigurationIsRefusedGetTheirRolesOnceItIsSaved() async throws {
        let actions = FlakyRoles()
        actions.failing.withLock { $0 = false }
        let settings = RefusedUntilSaved()
        let rewarder = LevelUpRewarder(
            settings: settings, actions: actions, levels: LevelsBut(newcomer: UserID(79)), retryDelay: .milliseconds(1),
            retryInterval: .milliseconds(50))
        let guild = GuildID(9 << 22)
        try await Self.withRunning(rewarder) { join in
            for user: UInt64 in [77, 78, 79] { join.yield(MemberJoin(guild: guild, user: UserID(user))) }
            try await waitUntil("both returning members held") { rewarder.joinsAwaitingSettings.withLock { $0.count(in: guild.rawValue) } == 2 }
            try await Task.sleep(for: .milliseconds(300))
            #expect(actions.added.value.isEmpty)
            #expect(settings.reads.value == 1, "the refusal read once, and kept")
            #expect(rewarder.joinsAwaitingSettings.withLock { $0.count } == 2 && rewarder.failedJoins.withLock { $0.isEmpty })

            settings.refused.withLock { $0 = false }
            rewarder.settingsChanged(guild)
            try await waitUntil("given at the retry after the change") { rewarder.totals.rolesRestored == 4 }
            #expect(actions.added.value.sorted() == [501, 501, 1_001, 1_001])
            #expect(rewarder.joinsAwaitingSettings.withLock { $0.count } == 0)
        }
    }

    /// Reads the refused configuration while an admin's save comes in: the save's release of held
    /// joins has come and gone by the time the read's answer is acted on.
    final class SavedDuringTheRead: GuildSettingsSource, Sendable {
        let rewarder = Locked<LevelUpRewarder?>(nil), saved = Locked(false), reads = Locked(0)
        func settings(for guild: GuildID) async -> GuildSettings? {
            reads.withLock { $0 += 1 }
            guard saved.value else {
                saved.withLock { $0 = true }
                rewarder.value?.settingsChanged(guild)
                return .refused
            }
            return RefusedUntilSaved.valid
        }
    }

    /// A join found refused by a read a save overtook is tried at the next retry, not held until
    /// a save that already came; nor is that refusal kept for the joins after it.
    @Test func aJoinFoundRefusedByAReadASaveOvertookIsTriedAgain() async {
        let settings = SavedDuringTheRead()
        let actions = FlakyRoles()
        actions.failing.withLock { $0 = false }
        let rewarder = LevelUpRewarder(settings: settings, actions: actions, levels: Levels())
        settings.rewarder.withLock { $0 = rewarder }
        let guild = GuildID(9 << 22)
        await rewarder.handle(MemberJoin(guild: guild, user: UserID(77)))
        #expect(rewarder.joinsAwaitingSettings.withLock { $0.count } == 0)
        #expect(rewarder.failedJoins.withLock { $0 } == [MemberJoin(guild: guild, user: UserID(77))])
        await rewarder.handle(MemberJoin(guild: guild, user: UserID(77)))
        #expect(settings.reads.value == 2 && rewarder.totals.rolesRestored == 2, "read again: the stale refusal was not kept")
    }

    /// Held joins are bounded per guild and in all; a member held twice counts once; a guild's
    /// release frees its share.
    @Test func joinsAwaitingSettingsAreBounded() {
        var awaiting = JoinsAwaitingSettings(perGuild: 2, limit: 3)
        let first = [awaiting.hold(1, in: 10), awaiting.hold(2, in: 10)]
        #expect(first == [true, true])
        let third = awaiting.hold(3, in: 10)
        #expect(!third, "the guild's share is full")
        let again = awaiting.hold(1, in: 10)
        #expect(again && awaiting.count == 2, "held once")
        let other = [awaiting.hold(1, in: 20), awaiting.hold(2, in: 20)]
        #expect(other == [true, false], "the total is reached")
        let released = [awaiting.release(10), awaiting.release(10)]
        #expect(released == [[1, 2], []] && awaiting.count == 1)
        let afterRelease = awaiting.hold(2, in: 20)
        #expect(afterRelease && awaiting.count(in: 20) == 2)
    }

    /// A guild's load from the checkpoint, as the flusher makes it: the member's record (`level`,
    /// 3,000 XP, pending screening or not), then the batch marker.
    static func load(
        member user: UInt64, at level: Int, pending: Bool = false, in guild: GuildID, _ keys: StatsKeys, _ redis: RedisClient
    ) async throws {
        var record = MemberRecord(xp: 3_000, level: level)
        record.isPending = pending
        var load = RedisPipeline()
        load.beginCommand(arguments: 6)
        for argument in ["HSET", keys.members(in: guild), String(user)] { load.appendArgument(argument) }
        load.appendArgument(bytes: record.stored)
        for argument in [StatsKeys.batchField, "hydrated"] { load.appendArgument(argument) }
        _ = try await redis.execute(load).first?.orThrow()
    }

    /// A member who comes back to a guild Redis lost (restarted empty) is not taken for a newcomer:
    /// Redis holds nothing of the guild until its next flush loads it from the checkpoint, and the
    /// member's rewards are given at a retry once it has. In a guild Redis holds, a member it has
    /// no record of is a newcomer, and nothing is tried again for them.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aMemberBackInAGuildRedisLostGetsTheirRewardsOnceItIsLoaded() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(9 << 22)
        let reader = StatsReader(redis: redis, keys: keys)
        await #expect(throws: StatsReader.GuildNotLoaded(guild: guild)) { try await reader.member(UserID(77), inLoaded: guild) }

        let rewards = LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: nil)
        let actions = FlakyRoles()
        actions.failing.withLock { $0 = false }
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions, levels: reader,
            retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        try await Self.withRunning(rewarder) { join in
            join.yield(MemberJoin(guild: guild, user: UserID(77)))
            try await Task.sleep(for: .milliseconds(250))
            #expect(actions.added.value.isEmpty && rewarder.totals.failures == 0, "not a newcomer, nor a failure: not known yet")
            try await Self.load(member: 77, at: 12, in: guild, keys, redis)
            try await waitUntil("given at a retry once the guild is loaded") { Set(actions.added.value) == [501, 1_001] }
            #expect(try await reader.member(UserID(78), inLoaded: guild) == nil)
            join.yield(MemberJoin(guild: guild, user: UserID(78)))
            try await Task.sleep(for: .milliseconds(250))
            #expect(actions.added.value.count == 2 && rewarder.totals.rolesRestored == 2, "nothing for a newcomer")
        }
        _ = try await redis.send("DEL", keys.members(in: guild))
        await redis.close()
    }
}
