import DiscordModels
import DiscordREST
import DiscordSimulator
import KamiiCore
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// Rewards keep to half the REST client's invalid-request budget: guilds whose reward roles Discord
/// refuses (above the bot's own) cannot spend what moderation and interactions need. Against the
/// simulator, which refuses such a role with 403 as Discord does.
struct InvalidRequestShareTests {
    struct PerGuildSettings: GuildSettingsSource {
        let settings: [GuildID: GuildSettings]
        func settings(for guild: GuildID) async -> GuildSettings? { settings[guild] }
    }

    /// Two guilds' top roles (above the bot's) refused: two invalid requests, half the budget of
    /// four. The next reward call, one Discord would accept, is held back unsent and waits.
    @Test func rewardsStopAtHalfTheInvalidRequestBudget() async throws {
        let world = LevelUpRewarderTests.world
        let configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        let server = try await SimulatorServer.start(configuration)
        let client = DiscordRESTClient(configuration: RESTClientConfiguration(
            apiBaseURL: server.apiBaseURL, token: configuration.token, invalidRequestLimit: 4))
        // Two guilds, each with a plain member (not a bot, not holding the guild's top role).
        let picked = world.guilds.filter { $0.roles.count >= 4 && $0.members.count >= 10 }.compactMap { guild -> (TrafficWorld.Guild, UserID)? in
            let top = guild.roles[guild.roles.count - 1]
            let slot = (1..<guild.members.count).first { slot in
                !world.initialRoles(of: guild, slot: slot).contains(top) && !world.users[guild.members[slot]].isBot
            }
            return slot.map { (guild, world.users[guild.members[$0]].id) }
        }.prefix(2)
        try #require(picked.count == 2)
        let (a, memberA) = picked[picked.startIndex]
        let (b, memberB) = picked[picked.startIndex + 1]
        let plain = a.roles[0]
        if try await client.member(memberA, in: a.id).roles.contains(plain) { try await client.removeRole(plain, from: memberA, in: a.id) }
        func rewards(_ list: [LevelRewards.Reward]) -> GuildSettings {
            GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(rewards: list, stack: true, announcementChannel: nil))
        }
        let settings = PerGuildSettings(settings: [
            a.id: rewards([.init(level: 1, role: a.roles[a.roles.count - 1].rawValue), .init(level: 2, role: plain.rawValue)]),
            b.id: rewards([.init(level: 1, role: b.roles[b.roles.count - 1].rawValue)]),
        ])
        let rewarder = LevelUpRewarder(settings: settings, actions: RESTLevelUpActions(client: client), retryDelay: .milliseconds(1))

        await rewarder.handle(LevelUp(guild: a.id, user: memberA, from: 0, to: 1))
        await rewarder.handle(LevelUp(guild: b.id, user: memberB, from: 0, to: 1))
        #expect(client.invalidRequests == 2)
        let calls = server.record.rest.count
        await rewarder.handle(LevelUp(guild: a.id, user: memberA, from: 1, to: 2))

        #expect(server.record.rest.count == calls, "nothing sent")
        #expect(rewarder.totals.heldForBudget == 1 && rewarder.totals.rolesAdded == 0)
        #expect(try await !client.member(memberA, in: a.id).roles.contains(plain))
        try await server.stop()
    }
}
