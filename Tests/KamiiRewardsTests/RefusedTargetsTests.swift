import DiscordModels
import DiscordREST
import KamiiCore
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// A guild that refuses the bot a reward role (its role moved below it) does not spend the
/// process's invalid-request budget one level-up at a time.
struct RefusedTargetsTests {
    /// Refuses every role added, as Discord does when the role is above the bot's highest.
    final class RefusingRoles: LevelUpActions, Sendable {
        let calls = Locked(0)
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
            calls.withLock { $0 += 1 }
            throw RESTError(.discord(status: 403, code: 50013, message: "Missing Permissions"))
        }
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {}
    }

    @Test func aRefusedRoleIsNotAskedForAgainUntilTheSettingsChange() async {
        let guild = GuildID(9 << 22)
        let rewards = LevelRewards(rewards: [.init(level: 1, role: 900)], stack: true, announcementChannel: nil)
        let actions = RefusingRoles()
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions,
            retryDelay: .milliseconds(1))
        for user in 1...5 as ClosedRange<UInt64> { await rewarder.handle(LevelUp(guild: guild, user: UserID(user), from: 0, to: 1)) }
        #expect(actions.calls.value == 1)
        #expect(rewarder.totals.notSent == 4 && rewarder.totals.failures == 1)
        // Another guild is asked as usual.
        await rewarder.handle(LevelUp(guild: GuildID(10 << 22), user: UserID(1), from: 0, to: 1))
        #expect(actions.calls.value == 2)
        // An admin saved the guild's settings (moved the bot's role up, say): asked again.
        rewarder.settingsChanged(guild)
        await rewarder.handle(LevelUp(guild: guild, user: UserID(6), from: 0, to: 1))
        #expect(actions.calls.value == 3)
    }

    /// A target refused again as soon as it is tried again is kept twice as long each time, up to
    /// a day: a guild left misconfigured costs a refusal a day, not one every ten minutes. A call
    /// that goes through starts the count again; so does a save of the guild's settings.
    @Test func aTargetRefusedAgainIsKeptTwiceAsLong() {
        let refused = RefusedTargets(lifetime: .seconds(600))
        let start = ContinuousClock.now
        func refusedAt(_ seconds: Int) -> Bool { refused.isRefused(900, in: 1, now: start + .seconds(seconds)) }
        refused.note(50013, on: 900, in: 1, now: start)
        #expect(refusedAt(599) && !refusedAt(600))
        refused.note(50013, on: 900, in: 1, now: start + .seconds(600))
        #expect(refusedAt(600 + 1_199) && !refusedAt(600 + 1_200))
        refused.note(50013, on: 900, in: 1, now: start + .seconds(1_800))
        #expect(refusedAt(1_800 + 2_399) && !refusedAt(1_800 + 2_400))
        for _ in 0..<20 { refused.note(50013, on: 900, in: 1, now: start + .seconds(10_000)) }
        #expect(refusedAt(10_000 + 86_399) && !refusedAt(10_000 + 86_400), "a day at most")
        #expect(!refused.isRefused(901, in: 1, now: start) && !refused.isRefused(900, in: 2, now: start))

        refused.accepted(900, in: 1)
        refused.note(50013, on: 900, in: 1, now: start)
        #expect(refusedAt(599) && !refusedAt(600), "counted from the start after a call went through")
        refused.note(50013, on: 900, in: 1, now: start + .seconds(600))
        refused.forget(1)
        refused.note(50013, on: 900, in: 1, now: start)
        #expect(!refusedAt(600), "and after the settings were saved")
    }

    /// A refusal about the member (unknown member: they left) says nothing of the role.
    @Test func aRefusalAboutTheMemberIsNotKept() {
        let refused = RefusedTargets(lifetime: .seconds(600))
        refused.note(10007, on: 900, in: 1)
        #expect(!refused.isRefused(900, in: 1))
        refused.note(50013, on: 900, in: 1)
        #expect(refused.isRefused(900, in: 1) && !refused.isRefused(901, in: 1) && !refused.isRefused(900, in: 2))
    }
}
