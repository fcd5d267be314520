import DiscordModels
import DiscordREST
import DiscordSimulator
import KamiiCore
import KamiiStats
import KamiiTestSupport
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

        // The tier below is the one the member holds (reached before this level-up): nothing more.
        #expect(server.record.rest.dropFirst(calls).map { "\($0.method) \($0.status)" } == ["PUT 403"], "no removal after the refusal")
        let roles = try await client.member(member, in: guild.id).roles
        #expect(roles.contains(low) && !roles.contains(aboveBot), "\(roles)")
        #expect(rewarder.totals.rolesRemoved == 0)
        try await server.stop()
    }

    /// A member who passes a lower tier on the way to a refused one, or comes back at a level whose
    /// tier is refused, is given the highest tier the bot may give — not nothing.
    @Test(arguments: [false, true])
    func aRefusedTopTierFallsToTheNextOneDown(returning: Bool) async throws {
        struct FixedLevels: MemberLevels {
            let level: Int
            func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? { (level, false) }
        }
        let (server, client) = try await LevelUpRewarderTests.start()
        let (guild, member) = try LevelUpRewarderTests.pick()
        let roles = LevelUpRewarderTests.world.roles(of: guild)
        let bot = try #require(roles.first { $0.managed })
        let below = roles.filter { !$0.managed && $0.position < bot.position }.map(\.id)
        let aboveBot = try #require(roles.filter { !$0.managed && $0.position > bot.position }.last?.id)
        try #require(below.count >= 2)
        let (lowest, middle) = (below[0], below[1])
        let rewards = LevelRewards(
            rewards: [.init(level: 5, role: lowest.rawValue), .init(level: 10, role: middle.rawValue), .init(level: 20, role: aboveBot.rawValue)],
            stack: false, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            levels: FixedLevels(level: 22), retryDelay: .milliseconds(10))
        for role in [lowest, middle, aboveBot] where try await client.member(member, in: guild.id).roles.contains(role) {
            try await client.removeRole(role, from: member, in: guild.id)
        }
        if !returning { try await client.addRole(lowest, to: member, in: guild.id) }
        let calls = server.record.rest.count

        if returning {
            await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: [MemberJoin(guild: guild.id, user: member)].async)
        } else {
            await rewarder.handle(LevelUp(guild: guild.id, user: member, from: 7, to: 22))
        }

        // Returning: Discord dropped their roles, nothing to remove.
        #expect(server.record.rest.dropFirst(calls).map { "\($0.method) \($0.status)" } == ["PUT 403", "PUT 204"] + (returning ? [] : ["DELETE 204"]))
        let held = try await client.member(member, in: guild.id).roles
        #expect(held.contains(middle) && !held.contains(aboveBot) && !held.contains(lowest), "\(held)")
        #expect(returning ? rewarder.totals.rolesRestored == 1 : rewarder.totals.rolesAdded == 1 && rewarder.totals.rolesRemoved == 1)
        try await server.stop()
    }

    /// Discord refusing the member (they left again) is not a refusal of the role: no lower tier is
    /// tried, each would be refused too (and spend the invalid-request budget).
    @Test func aRefusedMemberIsNotWalkedDownTheTiers() async throws {
        let (server, client) = try await LevelUpRewarderTests.start()
        let (guild, _) = try LevelUpRewarderTests.pick()
        // Nobody the simulated world knows: Discord answers Unknown Member (10007).
        let stranger = UserID(1 << 50)
        #expect(!LevelUpRewarderTests.world.users.contains { $0.id == stranger })
        let rewards = LevelRewards(
            rewards: [.init(level: 5, role: guild.roles[0].rawValue), .init(level: 10, role: guild.roles[1].rawValue)], stack: false, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            retryDelay: .milliseconds(10))
        let calls = server.record.rest.count

        await rewarder.handle(LevelUp(guild: guild.id, user: stranger, from: 9, to: 10))

        #expect(server.record.rest.dropFirst(calls).map { "\($0.method) \($0.status)" } == ["PUT 404"])
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

    /// A bot refused every role (no Manage Roles) spends at most two refusals on a walk down the
    /// tiers, not one per tier; Missing Access (50001, the guild out of reach) ends it at the first.
    @Test(arguments: [50013, 50001])
    func aWalkDownTheTiersSendsFewRefusals(code: Int) async {
        final class Refusing: LevelUpActions, Sendable {
            let code: Int
            let calls = Locked(0)
            init(code: Int) { self.code = code }
            func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
                calls.withLock { $0 += 1 }
                throw RESTError(.discord(status: 403, code: code, message: "refused"))
            }
            func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
            func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {}
        }
        let rewards = LevelRewards(rewards: (1...5).map { .init(level: 5 * $0, role: UInt64(900 + $0)) }, stack: false, announcementChannel: nil)
        let actions = Refusing(code: code)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions, retryDelay: .milliseconds(1))
        await rewarder.handle(LevelUp(guild: GuildID(11 << 22), user: UserID(7), from: 1, to: 30))
        #expect(actions.calls.value == (code == 50001 ? 1 : 2))
        // Another member: the refusals remembered cost nothing — a remembered 50001 still ends the
        // walk; past remembered 50013s, the next two tiers are tried.
        await rewarder.handle(LevelUp(guild: GuildID(11 << 22), user: UserID(8), from: 1, to: 30))
        #expect(actions.calls.value == (code == 50001 ? 1 : 4))
    }
}
