import DiscordModels
import DiscordREST
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// Level-ups carried out whose mark in Redis failed stay waiting: the next retry marks them, and
/// does not announce them again. (The waiting list is a stand-in here: what is tested is the
/// rewarder's rule; `LevelUpRetryTests` run the real one against Redis.)
struct UnmarkedLevelUpTests {
    /// A waiting list whose first `done` fails, as a Redis gone for a moment would.
    final class FlakyBacklog: WaitingLevelUps, Sendable {
        let entries: Locked<[LevelUp]>
        let failures = Locked(1)
        init(_ entries: [LevelUp]) { self.entries = Locked(entries) }
        func waiting() async throws -> [LevelUp] { entries.value }
        func waiting(in guilds: [GuildID]) async throws -> [LevelUp] { entries.value.filter { guilds.contains($0.guild) } }
        func done(_ levelUps: [LevelUp]) async throws {
            if failures.withLock({ failures in defer { failures -= 1 }; return failures > 0 }) {
                throw RedisError.connectionLost
            }
            entries.withLock { entries in entries.removeAll { levelUps.contains($0) } }
        }
        func waitingJoins() async throws -> [MemberJoin] { [] }
        func waitingJoins(in guilds: [GuildID]) async throws -> [MemberJoin] { [] }
        func joinsDone(_ joins: [MemberJoin]) async throws {}
    }

    @Test func aLevelUpNotMarkedDoneIsMarkedByTheNextRetryAndAnnouncedOnce() async throws {
        let levelUp = LevelUp(guild: GuildID(11 << 22), user: UserID(77), from: 0, to: 3)
        let backlog = FlakyBacklog([levelUp])
        let actions = LevelUpRetryTests.FlakyAnnouncements()
        actions.failing.withLock { $0 = false }
        let rewarder = LevelUpRewarder(
            settings: LevelUpRetryTests.Announcing(), actions: actions, backlog: backlog, retryDelay: .milliseconds(1),
            retryInterval: .milliseconds(50))
        let (levelUps, reported) = AsyncStream<LevelUp>.makeStream()
        async let running: Void = rewarder.run(levelUps, joins: AsyncStream<MemberJoin> { $0.finish() })
        reported.yield(levelUp)
        try await waitUntil("marked done at last") { backlog.entries.value.isEmpty }
        reported.finish()
        await running
        #expect(actions.announced.value == [3], "announced once")
        #expect(actions.rolesAdded.value >= 1)
    }
}
