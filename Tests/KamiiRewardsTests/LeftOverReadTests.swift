import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// What an earlier run left (a level-up, a returning member's join) whose read failed at start —
/// Redis away for a moment — is read again at the next retry and carried out, not left for the
/// next start.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct LeftOverReadTests {
    /// The real backlog, whose first read of every guild's level-ups and of every guild's joins fails.
    final class FirstReadsFail: WaitingLevelUps, Sendable {
        let real: LevelUpBacklog
        let failures = Locked(Set(["levelUps", "joins"]))
        init(_ real: LevelUpBacklog) { self.real = real }
        private func failOnce(_ read: String) throws {
            if failures.withLock({ $0.remove(read) != nil }) { throw RedisError.connectionLost }
        }
        func waiting() async throws -> [LevelUp] {
            try failOnce("levelUps")
            return try await real.waiting()
        }
        func waiting(in guilds: [GuildID]) async throws -> [LevelUp] { try await real.waiting(in: guilds) }
        func done(_ levelUps: [LevelUp]) async throws { try await real.done(levelUps) }
        func waitingJoins() async throws -> [MemberJoin] {
            try failOnce("joins")
            return try await real.waitingJoins()
        }
        func waitingJoins(in guilds: [GuildID]) async throws -> [MemberJoin] { try await real.waitingJoins(in: guilds) }
        func joinsDone(_ joins: [MemberJoin]) async throws { try await real.joinsDone(joins) }
    }

    /// Carried out by the process whose shards hold the guild; another process's re-read leaves it.
    @Test(arguments: [true, false])
    func whatAnEarlierRunLeftIsReadAgainWhenTheStartsReadFailed(owned: Bool) async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
        // Member 77's level-up to 3 and member 78's return (level 12), as a killed run left them.
        try await ReturningMemberRetryTests.load(member: 77, at: 3, in: guild, keys, redis)
        try await ReturningMemberRetryTests.load(member: 78, at: 12, in: guild, keys, redis)
        var left = RedisPipeline()
        left.append("HSET", keys.waitingLevelUps(in: guild), "77", "0:3")
        left.append("HSET", keys.waitingJoins(in: guild), "78", "earlier-flush")
        for reply in try await redis.execute(left) { _ = try reply.orThrow() }

        let actions = ReturningMemberRetryTests.FlakyRoles()
        actions.failing.withLock { $0 = false }
        let rewards = LevelRewards(rewards: [.init(level: 1, role: 501)], stack: true, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions,
            levels: StatsReader(redis: redis, keys: keys), backlog: FirstReadsFail(LevelUpBacklog(redis: redis, keys: keys)),
            retryDelay: .milliseconds(1), retryInterval: .milliseconds(100), owns: { _ in owned })
        let waiting = await rewarder.waitingLevelUps(), waitingJoins = await rewarder.waitingJoins()
        #expect(waiting.isEmpty && waitingJoins.isEmpty, "both reads failed")
        try await ReturningMemberRetryTests.withRunning(rewarder) { _ in
            guard owned else {
                try await Task.sleep(for: .milliseconds(350))
                #expect(actions.added.value.isEmpty, "another process's guild")
                #expect(try await redis.send("EXISTS", keys.waitingLevelUps(in: guild), keys.waitingJoins(in: guild)).int == 2)
                return
            }
            try await waitUntil("both carried out at a retry") { actions.added.value == [501, 501] }
            try await waitUntil("and cleared") {
                try await redis.send("EXISTS", keys.waitingLevelUps(in: guild), keys.waitingJoins(in: guild)).int == 0
            }
        }
        await redis.close()
    }
}
