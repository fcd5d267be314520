import DiscordModels
import DiscordREST
import DiscordSimulator
import KamiiCore
import KamiiStats
@testable import KamiiRewards
import Testing

/// Rewards that replace each other never leave a member with fewer reward roles than before.
struct ReplacedRewardsTests {
    @Test func aRefusedNewRewardLeavesTheOldOneInPlace() async throws {
        let (server, client) = try await LevelUpRewarderTests.start()
        let (guild, member) = try LevelUpRewarderTests.pick()
        // The level-10 reward is a role above the bot's: Discord refuses to give it (50013).
        let low = guild.roles[0], aboveBot = guild.roles[guild.roles.count - 1]
        let rewards = LevelRewards(rewards: [.init(level: 5, role: low.rawValue), .init(level: 10, role: aboveBot.rawValue)], stack: false, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            retryDelay: .milliseconds(10))
        await rewarder.handle(LevelUp(guild: guild.id, user: member, from: 4, to: 5))
        #expect(try await client.member(member, in: guild.id).roles.contains(low))
        let calls = server.record.rest.count

        await rewarder.handle(LevelUp(guild: guild.id, user: member, from: 9, to: 10))

        #expect(server.record.rest.dropFirst(calls).map { "\($0.method) \($0.status)" } == ["PUT 403"], "no removal after the refusal")
        let roles = try await client.member(member, in: guild.id).roles
        #expect(roles.contains(low) && !roles.contains(aboveBot), "\(roles)")
        #expect(rewarder.totals.rolesRemoved == 0)
        try await server.stop()
    }

    /// With many lower tiers, the member's roles are read once and only those held are removed.
    @Test func onlyTheLowerRewardsHeldAreRemoved() async throws {
        let (server, client) = try await LevelUpRewarderTests.start()
        let (guild, member) = try LevelUpRewarderTests.pick()
        let roles = LevelUpRewarderTests.world.roles(of: guild)
        let bot = try #require(roles.first { $0.managed })
        let below = roles.filter { !$0.managed && $0.position < bot.position }.map(\.id)
        #expect(below.count >= 3, "\(roles)")
        guard below.count >= 3 else { return }
        let tiers = Array(below.prefix(3))
        let rewards = LevelRewards(
            rewards: tiers.enumerated().map { .init(level: 5 * ($0.offset + 1), role: $0.element.rawValue) }, stack: false, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client))
        for role in tiers where try await client.member(member, in: guild.id).roles.contains(role) {
            try await client.removeRole(role, from: member, in: guild.id)
        }
        try await client.addRole(tiers[0], to: member, in: guild.id)
        let calls = server.record.rest.count

        await rewarder.handle(LevelUp(guild: guild.id, user: member, from: 4, to: 16))

        #expect(server.record.rest.dropFirst(calls).map { "\($0.method) \($0.status)" } == ["PUT 204", "GET 200", "DELETE 204"])
        let held = try await client.member(member, in: guild.id).roles
        #expect(held.contains(tiers[2]) && !held.contains(tiers[0]) && !held.contains(tiers[1]))
        #expect(rewarder.totals.rolesRemoved == 1)
        try await server.stop()
    }
}
