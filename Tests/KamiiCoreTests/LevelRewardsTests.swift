import DiscordModels
import KamiiCore
import KamiiStore
import Testing

struct LevelRewardsTests {
    let rewards = [LevelRewards.Reward(level: 10, role: 100), LevelRewards.Reward(level: 5, role: 50), LevelRewards.Reward(level: 20, role: 200)]

    @Test func stackedRewardsAddEveryRoleReachedAndRemoveNone() {
        let stacked = LevelRewards(rewards: rewards, stack: true, announcementChannel: nil)
        #expect(stacked.changes(from: 4, to: 5) == .init(add: [50]))
        #expect(stacked.changes(from: 5, to: 6).isEmpty)
        // Skipping levels earns every reward on the way, lowest first.
        #expect(stacked.changes(from: 3, to: 12) == .init(add: [50, 100]))
        #expect(stacked.changes(from: 12, to: 12).isEmpty)
    }

    @Test func replacingRewardsKeepOnlyTheHighestReached() {
        let replacing = LevelRewards(rewards: rewards, stack: false, announcementChannel: 9)
        #expect(replacing.changes(from: 4, to: 5) == .init(add: [50]))
        #expect(replacing.changes(from: 9, to: 10) == .init(add: [100], remove: [50]))
        #expect(replacing.changes(from: 19, to: 20) == .init(add: [200], remove: [50, 100]))
        // Passing level 5 on the way to 10: its role goes anyway (the member may hold it already).
        #expect(replacing.changes(from: 3, to: 10) == .init(add: [100], remove: [50]))
        #expect(replacing.changes(from: 10, to: 19).isEmpty)
    }

    @Test func aReturningMemberHoldsTheRewardsOfTheirLevel() {
        #expect(LevelRewards(rewards: rewards, stack: true, announcementChannel: nil).roles(atLevel: 12) == [50, 100])
        #expect(LevelRewards(rewards: rewards, stack: false, announcementChannel: nil).roles(atLevel: 12) == [100])
        #expect(LevelRewards(rewards: rewards, stack: false, announcementChannel: nil).roles(atLevel: 4).isEmpty)
    }

    @Test func replacedTiersRunFromTheHighestReachedDownOncePerRole() {
        let replacing = LevelRewards(rewards: rewards + [.init(level: 15, role: 50)], stack: false, announcementChannel: nil)
        #expect(replacing.tiers(atLevel: 12).map(\.role) == [100, 50])
        // A role given at two levels is tried once, at its higher level (what it replaces is below that).
        #expect(replacing.tiers(atLevel: 17) == [.init(level: 15, role: 50), .init(level: 10, role: 100)])
        #expect(replacing.tiers(atLevel: 20).map(\.role) == [200, 50, 100])
        #expect(replacing.tiers(atLevel: 4).isEmpty)
    }

    @Test func aStoredConfigurationGivesItsRewardsOnlyWithXPOn() {
        var config = GuildConfig()
        config.xp.levelRewards = [.init(level: 3, role: RoleID(1 << 40))]
        config.xp.stackRewards = false
        config.channels.levelUp = ChannelID(1 << 41)
        let settings = GuildSettings(config)
        #expect(settings.levelRewards == LevelRewards(rewards: [.init(level: 3, role: 1 << 40)], stack: false, announcementChannel: 1 << 41))
        config.modules.xp = false
        #expect(GuildSettings(config).levelRewards.isEmpty)
    }
}
