import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// Returning members' joins wait in Redis (the guild's joins hash, written by the flush that
/// applied them) until the rewarder has carried them out: what a crash or a restart left is
/// carried out at the next start, one that fails for now is read from Redis again at its guild's
/// retry, and each leaves Redis once over.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct DurableJoinsTests {
    typealias FlakyRoles = ReturningMemberRetryTests.FlakyRoles
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    static let rewards = LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: nil)
    static let settings = FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards))

    /// Role grants that go through (Discord reachable).
    static func reachable() -> FlakyRoles {
        let actions = FlakyRoles()
        actions.failing.withLock { $0 = false }
        return actions
    }

    /// Redis as a flush leaves it: member 77 at level 12 in a loaded guild (pending screening or
    /// not), and the joins of 77 and of `others` (members Redis has no record of) waiting.
    func prepare(_ redis: RedisClient, others: [UInt64] = [], pending: Bool = false) async throws {
        try await ReturningMemberRetryTests.load(member: 77, at: 12, pending: pending, in: guild, keys, redis)
        var joins = RedisPipeline()
        joins.append(["HSET", keys.waitingJoins(in: guild), "77", "12"] + others.flatMap { [String($0), "1"] })
        _ = try await redis.execute(joins).first?.orThrow()
    }

    func rewarder(_ redis: RedisClient, _ actions: FlakyRoles, settings: any GuildSettingsSource = settings, owns: Bool = true) -> LevelUpRewarder {
        LevelUpRewarder(
            settings: settings, actions: actions, levels: StatsReader(redis: redis, keys: keys),
            backlog: LevelUpBacklog(redis: redis, keys: keys), retryDelay: .milliseconds(1), retryInterval: .milliseconds(100),
            owns: { _ in owns })
    }

    /// Saves the guild's settings; 77's join is then given its roles and cleared from Redis.
    func expectGivenOnceSettingsChange(_ rewarder: LevelUpRewarder, _ redis: RedisClient, _ actions: FlakyRoles) async throws {
        rewarder.settingsChanged(guild)
        try await waitUntil("cleared once given") { try await waiting(redis).isEmpty }
        #expect(Set(actions.added.value) == [501, 1_001])
    }

    func waiting(_ redis: RedisClient) async throws -> [String] {
        try await redis.send("HKEYS", keys.waitingJoins(in: guild)).array?.compactMap(\.string).sorted() ?? []
    }

    /// A kill before the rewarder got to a join: the next start reads it, gives the roles and
    /// clears it — and clears a join owed nothing after all (no record) without a call.
    @Test func joinsAnEarlierRunLeftAreCarriedOutAtStart() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis, others: [78])
        let actions = Self.reachable()
        let rewarder = rewarder(redis, actions)
        let left = await rewarder.waitingJoins().filter { $0.guild == guild }
        #expect(Set(left.map(\.user.rawValue)) == [77, 78])
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waitingJoins: left)
        #expect(actions.added.value.sorted() == [501, 1_001])
        #expect(try await waiting(redis).isEmpty)
        await redis.close()
    }

    /// A join whose roles could not be given (Discord unreachable) stays in Redis — a restart
    /// now would still find it — and the guild's retry reads it from there once Discord is back.
    @Test func aJoinThatFailedWaitsInRedisUntilARetryCarriesItOut() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis)
        let actions = FlakyRoles()
        let rewarder = rewarder(redis, actions)
        try await ReturningMemberRetryTests.withRunning(rewarder) { join in
            join.yield(MemberJoin(guild: guild, user: UserID(77)))
            try await waitUntil("the first try failed, both roles") { rewarder.totals.failures >= 2 }
            #expect(try await waiting(redis) == ["77"])
            #expect(rewarder.failedJoins.withLock { $0.map(\.user) } == [UserID(77)], "the process holds it too, for a Redis that restarts empty")
            actions.failing.withLock { $0 = false }
            try await waitUntil("given at a retry") { Set(actions.added.value) == [501, 1_001] }
            try await waitUntil("cleared once given") { try await waiting(redis).isEmpty }
        }
        await redis.close()
    }

    /// Members back while the guild's configuration is refused stay in Redis while they are held,
    /// and get their roles once an admin saves a valid one.
    @Test func joinsHeldForARefusedConfigurationWaitInRedis() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis)
        let actions = Self.reachable()
        let settings = ReturningMemberRetryTests.RefusedUntilSaved()
        let rewarder = rewarder(redis, actions, settings: settings)
        try await ReturningMemberRetryTests.withRunning(rewarder) { join in
            join.yield(MemberJoin(guild: guild, user: UserID(77)))
            try await waitUntil("held") { rewarder.joinsAwaitingSettings.withLock { $0.count } == 1 }
            try await Task.sleep(for: .milliseconds(250))
            #expect(try await waiting(redis) == ["77"] && actions.added.value.isEmpty)
            settings.refused.withLock { $0 = false }
            try await expectGivenOnceSettingsChange(rewarder, redis, actions)
        }
        await redis.close()
    }

    /// A join waiting in Redis that this process never held (read before a restart, or past the
    /// holds' bounds) is carried out once the guild's settings change: the change looks at Redis.
    @Test func aSettingsChangeLooksAtTheJoinsWaitingInRedis() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis)
        let actions = Self.reachable()
        let rewarder = rewarder(redis, actions)
        try await ReturningMemberRetryTests.withRunning(rewarder) { join in
            try await Task.sleep(for: .milliseconds(250))
            #expect(try await waiting(redis) == ["77"], "nobody looked")
            try await expectGivenOnceSettingsChange(rewarder, redis, actions)
        }
        await redis.close()
    }

    /// In a cluster every process hears every guild's saves: only the one whose shards hold the
    /// guild looks at its waiting joins (two would give and announce alike, and race).
    @Test func aSettingsChangeOfAnotherProcesssGuildLooksAtNothing() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis)
        let actions = Self.reachable()
        let rewarder = rewarder(redis, actions, owns: false)
        try await ReturningMemberRetryTests.withRunning(rewarder) { _ in
            rewarder.settingsChanged(guild)
            try await Task.sleep(for: .milliseconds(350))
            #expect(try await waiting(redis) == ["77"] && actions.added.value.isEmpty)
        }
        await redis.close()
    }

    /// A join carried out after the member came back pending screening (the flush that cleared
    /// its entry came after the join was read) gives nothing: a role would let them skip the
    /// screening. It is over; passing the screening is a join of its own.
    @Test func aJoinOfAMemberNowPendingGivesNothing() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis, pending: true)
        let actions = Self.reachable()
        let rewarder = rewarder(redis, actions)
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waitingJoins: await rewarder.waitingJoins())
        #expect(actions.added.value.isEmpty)
        #expect(try await waiting(redis).isEmpty)
        await redis.close()
    }

    /// Redis restarts empty while a join waits for Discord: the guild is loaded back from SQL by
    /// its next flush, its joins hash is gone, and the process's own copy gives the roles.
    @Test func aJoinWaitingWhenRedisLosesItsDataIsStillCarriedOut() async throws {
        let redis = try RedisTestServer.client()
        try await prepare(redis)
        let actions = FlakyRoles()
        let rewarder = rewarder(redis, actions)
        try await ReturningMemberRetryTests.withRunning(rewarder) { join in
            join.yield(MemberJoin(guild: guild, user: UserID(77), mark: "12"))
            try await waitUntil("the first try failed, both roles") { rewarder.totals.failures >= 2 }
            // Redis lost everything of the guild; its next flush loaded the member back from SQL.
            _ = try await redis.send("DEL", keys.waitingJoins(in: guild), keys.members(in: guild))
            try await ReturningMemberRetryTests.load(member: 77, at: 12, in: guild, keys, redis)
            actions.failing.withLock { $0 = false }
            try await waitUntil("given at a retry") { Set(actions.added.value) == [501, 1_001] }
            #expect(actions.added.value.count == 2, "once each, though Redis and the process both held it until Redis lost it")
        }
        await redis.close()
    }
}
