import DiscordModels
import DiscordREST
import KamiiCore
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
        func level(of user: UserID, in guild: GuildID) async throws -> Int? { 12 }
    }

    @Test func aFailedRestoreIsTriedAgain() async throws {
        let rewards = LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: nil)
        let actions = FlakyRoles()
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions, levels: Levels(),
            retryDelay: .milliseconds(1), retryInterval: .milliseconds(100))
        let (joins, join) = AsyncStream<MemberJoin>.makeStream()
        async let running: Void = rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: joins)
        join.yield(MemberJoin(guild: GuildID(9 << 22), user: UserID(77)))
        do {
            try await waitUntil("the first try failed, both roles") { rewarder.totals.failures >= 2 }
            #expect(actions.added.value.isEmpty)
            actions.failing.withLock { $0 = false }
            try await waitUntil("given at a retry") { Set(actions.added.value) == [501, 1_001] }
            #expect(Set(actions.added.value) == [501, 1_001] && rewarder.totals.rolesRestored == 2)
        } catch {
            join.finish()
            await running
            throw error
        }
        join.finish()
        await running
    }
}
