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
    /// Announcements that fail as an unreachable Discord would while `failing` is set; role adds
    /// while `rolesFailing` is.
    final class FlakyAnnouncements: LevelUpActions, Sendable {
        let failing = Locked(true), announced = Locked<[Int]>([])
        let rolesFailing = Locked(false), rolesAdded = Locked(0)
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
            if rolesFailing.value { throw RESTError(.transport(description: "connection refused")) }
            rolesAdded.withLock { $0 += 1 }
        }
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
            if failing.value { throw RESTError(.transport(description: "connection refused")) }
            announced.withLock { $0 += members.map(\.level) }
        }
    }

    /// Every guild announces level-ups in channel 1, and gives a role at level 3.
    struct Announcing: GuildSettingsSource {
        func settings(for guild: GuildID) async -> GuildSettings? {
            GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(rewards: [.init(level: 3, role: 1 << 30)], stack: true, announcementChannel: 1))
        }
    }

    /// What a test drives: the waiting list in Redis, and a rewarder running with failing
    /// announcements whose flush reports the test sends through `reported`.
    struct Running {
        let redis: RedisClient
        let keys: StatsKeys
        let guild: GuildID
        let backlog: LevelUpBacklog
        let actions: FlakyAnnouncements
        let rewarder: LevelUpRewarder
        let reported: AsyncStream<LevelUp>.Continuation

        /// Sets the member's waiting entry as a flush leaves it.
        func wait(_ user: UInt64, _ levels: String) async throws {
            try await redis.send("HSET", keys.waitingLevelUps(in: guild), String(user), levels)
        }
    }

    /// Runs `body` beside a rewarder that retries every 100 ms, then ends its stream and waits for it.
    func withRetryingRewarder(in guild: GuildID, _ body: (Running) async throws -> Void) async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        let actions = FlakyAnnouncements()
        let rewarder = LevelUpRewarder(
            settings: Announcing(), actions: actions, backlog: backlog, retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        let (levelUps, reported) = AsyncStream<LevelUp>.makeStream()
        async let running: Void = rewarder.run(levelUps, joins: AsyncStream<MemberJoin> { $0.finish() })
        do {
            try await body(Running(redis: redis, keys: keys, guild: guild, backlog: backlog, actions: actions, rewarder: rewarder, reported: reported))
        } catch {
            reported.finish()
            await running
            await redis.close()
            throw error
        }
        reported.finish()
        await running
        await redis.close()
    }

    /// A level-up whose announcement failed for a reason that passes (Discord unreachable) is tried
    /// again while the rewarder runs, not only at the next start, and leaves Redis once done.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpThatFailedIsTriedAgainWhileTheRewarderRuns() async throws {
        try await withRetryingRewarder(in: GuildID(6 << 22)) { run in
            try await run.wait(77, "0:3")
            run.reported.yield(LevelUp(guild: run.guild, user: UserID(77), from: 0, to: 3))
            try await waitUntil("the first try failed") { run.rewarder.totals.failures >= 1 }
            #expect(try await run.backlog.waiting().count == 1)
            run.actions.failing.withLock { $0 = false }
            try await waitUntil("tried again") { !run.actions.announced.value.isEmpty }
            try await waitUntil("marked done") { try await run.backlog.waiting().isEmpty }
            #expect(run.actions.announced.value == [3])
        }
    }

    /// A flush merges a member's new level-up into the one waiting in Redis, then reports it. A
    /// retry that read the merged entry before the report reached the lane has carried out both:
    /// the report is not announced again; the member's next level-up is.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpARetryAlreadyCarriedOutIsNotAnnouncedAgain() async throws {
        try await withRetryingRewarder(in: GuildID(7 << 22)) { run in
            try await run.wait(77, "0:3")
            run.reported.yield(LevelUp(guild: run.guild, user: UserID(77), from: 0, to: 3))
            try await waitUntil("the first try failed") { run.rewarder.totals.failures >= 1 }
            // The flush of level 4 has merged it into the waiting entry; its report is still on its way.
            try await run.wait(77, "0:4")
            run.actions.failing.withLock { $0 = false }
            try await waitUntil("tried again") { !run.actions.announced.value.isEmpty }
            try await waitUntil("marked done") { try await run.backlog.waiting().isEmpty }
            let seen = run.rewarder.totals.levelUps
            run.reported.yield(LevelUp(guild: run.guild, user: UserID(77), from: 3, to: 4))
            try await waitUntil("the report seen") { run.rewarder.totals.alreadyRetried + run.rewarder.totals.levelUps > seen }
            try await run.wait(77, "4:5")
            run.reported.yield(LevelUp(guild: run.guild, user: UserID(77), from: 4, to: 5))
            try await waitUntil("announced") { run.actions.announced.value.count >= 2 }
            try await waitUntil("marked done") { try await run.backlog.waiting().isEmpty }
            #expect(run.actions.announced.value == [4, 5])
            #expect(run.rewarder.totals.alreadyRetried == 1)
        }
    }

    /// A level-up announced whose role could not be given yet (Discord unreachable for that call)
    /// waits for a retry: the retries give the role, and do not announce it — and ping the member —
    /// again.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpAnnouncedWhoseRoleWaitsIsNotAnnouncedAgain() async throws {
        try await withRetryingRewarder(in: GuildID(9 << 22)) { run in
            run.actions.failing.withLock { $0 = false }
            run.actions.rolesFailing.withLock { $0 = true }
            try await run.wait(77, "0:3")
            run.reported.yield(LevelUp(guild: run.guild, user: UserID(77), from: 0, to: 3))
            try await waitUntil("three tries") { run.rewarder.totals.failures >= 3 }
            #expect(run.actions.announced.value == [3])
            run.actions.rolesFailing.withLock { $0 = false }
            try await waitUntil("the role given") { run.actions.rolesAdded.value == 1 }
            try await waitUntil("marked done") { try await run.backlog.waiting().isEmpty }
            #expect(run.actions.announced.value == [3], "announced once")
            #expect(run.rewarder.announced.withLock { $0.count } == 0, "nothing left waiting")
        }
    }

    /// A level-up applied without being reported (a flush's reply lost, the stream full) is carried
    /// out from Redis's waiting list once its guild is named.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aGuildNamedForUnreportedLevelUpsIsLookedAt() async throws {
        try await withRetryingRewarder(in: GuildID(8 << 22)) { run in
            run.actions.failing.withLock { $0 = false }
            try await run.wait(77, "2:3")
            try await Task.sleep(for: .milliseconds(250))
            #expect(run.actions.announced.value.isEmpty, "nothing failed here: no retry on its own")
            run.rewarder.lookAgain(at: [run.guild])
            try await waitUntil("carried out") { !run.actions.announced.value.isEmpty }
            try await waitUntil("marked done") { try await run.backlog.waiting().isEmpty }
            #expect(run.actions.announced.value == [3])
        }
    }
}
