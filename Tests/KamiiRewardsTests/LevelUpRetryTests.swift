import DiscordModels
import DiscordREST
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// Level-ups that could not be carried out, tried again while the rewarder runs: against a real
/// Redis holding the waiting list as the flush script leaves it.
struct LevelUpRetryTests {
    /// Announcements that fail as an unreachable Discord would while `failing` is set.
    final class FlakyAnnouncements: LevelUpActions, Sendable {
        let failing = Locked(true), announced = Locked<[Int]>([])
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {}
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
            if failing.value { throw RESTError(.transport(description: "connection refused")) }
            announced.withLock { $0 += members.map(\.level) }
        }
    }

    /// Every guild announces level-ups in channel 1.
    struct Announcing: GuildSettingsSource {
        func settings(for guild: GuildID) async -> GuildSettings? {
            GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(rewards: [], stack: true, announcementChannel: 1))
        }
    }

    /// A level-up whose announcement failed for a reason that passes (Discord unreachable) is tried
    /// again while the rewarder runs, not only at the next start, and leaves Redis once done.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpThatFailedIsTriedAgainWhileTheRewarderRuns() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(6 << 22)
        // As the flush leaves it beside the level-up it reports.
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "0:3")
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        let actions = FlakyAnnouncements()
        let rewarder = LevelUpRewarder(
            settings: Announcing(), actions: actions, backlog: backlog, retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        let (levelUps, reported) = AsyncStream<LevelUp>.makeStream()
        async let running: Void = rewarder.run(levelUps, joins: AsyncStream<MemberJoin> { $0.finish() })
        reported.yield(LevelUp(guild: guild, user: UserID(77), from: 0, to: 3))
        try await waitUntil("the first try failed") { rewarder.totals.failures >= 1 }
        #expect(try await backlog.waiting().count == 1)
        actions.failing.withLock { $0 = false }
        try await waitUntil("tried again") { !actions.announced.value.isEmpty }
        reported.finish()
        await running
        #expect(actions.announced.value == [3])
        #expect(try await backlog.waiting().isEmpty)
        await redis.close()
    }

    /// A flush merges a member's new level-up into the one waiting in Redis, then reports it. A
    /// retry that read the merged entry before the report reached the lane has carried out both:
    /// the report is not announced again; the member's next level-up is.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpARetryAlreadyCarriedOutIsNotAnnouncedAgain() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(7 << 22)
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "0:3")
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        let actions = FlakyAnnouncements()
        let rewarder = LevelUpRewarder(
            settings: Announcing(), actions: actions, backlog: backlog, retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        let (levelUps, reported) = AsyncStream<LevelUp>.makeStream()
        async let running: Void = rewarder.run(levelUps, joins: AsyncStream<MemberJoin> { $0.finish() })
        reported.yield(LevelUp(guild: guild, user: UserID(77), from: 0, to: 3))
        try await waitUntil("the first try failed") { rewarder.totals.failures >= 1 }
        // The flush of level 4 has merged it into the waiting entry; its report is still on its way.
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "0:4")
        actions.failing.withLock { $0 = false }
        try await waitUntil("tried again") { !actions.announced.value.isEmpty }
        #expect(actions.announced.value == [4])
        let seen = rewarder.totals.levelUps
        reported.yield(LevelUp(guild: guild, user: UserID(77), from: 3, to: 4))
        try await waitUntil("the report seen") { rewarder.totals.alreadyRetried + rewarder.totals.levelUps > seen }
        #expect(try await backlog.waiting().isEmpty)
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "4:5")
        reported.yield(LevelUp(guild: guild, user: UserID(77), from: 4, to: 5))
        reported.finish()
        await running
        #expect(actions.announced.value == [4, 5])
        #expect(rewarder.totals.alreadyRetried == 1)
        #expect(try await backlog.waiting().isEmpty)
        await redis.close()
    }
}
