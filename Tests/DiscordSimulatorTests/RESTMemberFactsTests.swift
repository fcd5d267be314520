import DiscordGateway
import DiscordModels
import Foundation
import KamiiTestSupport
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import DiscordSimulator

/// What REST calls change of members — a role given, a kick, a ban — reaches the ground truth when
/// the session numbers the dispatch it caused, once, in numbering order, whichever turn numbers it
/// (a tick of live traffic or the connection's own), so the truth's roles, `pending` and leaves are
/// what the bot was sent.
struct RESTMemberFactsTests {
    /// Synchronous on purpose: the embedded event loop belongs to the thread that made it.
    @Test func aRESTChangeIsObservedOnceWhereItIsNumbered() throws {
        let world = TrafficWorld(guildCount: 1, userCount: 80, seed: 11)
        let guild = world.guilds[0]
        let observed = Mutex<[TrafficFact]>([])
        let (channel, session) = embeddedSession(world: world) { fact in observed.withLock { $0.append(fact) } }
        func draw(_ count: Int) {
            for _ in 0..<count { _ = session.nextLiveDispatch(limit: nil, for: channel) { _, _, _ in } }
        }
        draw(50)
        let promoted = world.users[guild.members[1]], kicked = world.users[guild.members[2]].id
        let role = try #require(world.roles(of: guild).first { $0.name.hasPrefix("role-") }).id
        let member = GuildStates.Member(user: promoted, roles: [role], nick: nil, timeoutUntil: nil, joinedAt: 0)
        let before = observed.withLock { $0.count }
        // As a role given and a kick deliver them; the tick numbers them before what it draws.
        session.deliver([("GUILD_MEMBER_UPDATE", Array("{}".utf8), .updated(member))], guild: guild.id)
        session.deliver([("GUILD_MEMBER_REMOVE", Array("{}".utf8), .removed(kicked))], guild: guild.id)
        draw(1)
        let updated = TrafficFact.throughREST(.memberUpdated(guild: guild.id, user: promoted.id, roles: [role], pending: false))
        let left = TrafficFact.throughREST(.memberLeft(guild: guild.id, user: kicked))
        #expect(Array(observed.withLock { $0[before...] }.prefix(2)) == [updated, left])
        #expect(session.takePending(for: channel).isEmpty)
        // The connection's own turn numbers it when no tick came first.
        session.deliver([("GUILD_MEMBER_UPDATE", Array("{}".utf8), .updated(member))], guild: guild.id)
        #expect(session.takePending(for: channel).map(\.name) == ["GUILD_MEMBER_UPDATE"])
        draw(20)
        let facts = observed.withLock { $0 }
        #expect(facts.filter { $0 == updated }.count == 2 && facts.filter { $0 == left }.count == 1, "each numbered dispatch told once")
        channel.embeddedEventLoop.run()
    }

    @Test func theTruthFollowsRolesKicksAndBansMadeThroughREST() async throws {
        let world = RESTEndpointTests.world
        let cast = RESTEndpointTests.cast
        let guild = cast.guild.id
        // No live traffic: the member events the bot gets are the REST calls' alone.
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 0))
        let shard = testShard(server, intents: [.guilds, .guildMembers, .guildModeration])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the guilds", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == world.guilds.count }
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        try #require(cast.plain.count >= 4)
        let (promoted, kicked, banned) = (cast.plain[0], cast.plain[1], cast.plain[2])
        let role = try #require(cast.plainRoles.first { !cast.initialRoles(of: promoted).contains($0.id) }).id
        #expect(try await client.send("PUT", "/guilds/\(guild)/members/\(promoted)/roles/\(role)").status == 204)
        #expect(try await client.send("DELETE", "/guilds/\(guild)/members/\(kicked)").status == 204)
        #expect(try await client.send("PUT", "/guilds/\(guild)/bans/\(banned)", json: ["delete_message_seconds": 0]).status == 204)
        try await waitUntil("the three calls' dispatches", timeout: .seconds(30)) {
            received.count(of: "GUILD_MEMBER_UPDATE") == 1 && received.count(of: "GUILD_MEMBER_REMOVE") == 2
        }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        let update = try #require(received.decoded().first { $0.name == "GUILD_MEMBER_UPDATE" }).data
        let sentRoles = try #require(update["roles"] as? [String])
        #expect(sentRoles.contains(role.description))
        let truth = server.groundTruth.member(promoted, in: guild)
        #expect(truth.roles?.map(\.description) == sentRoles && truth.pending == false, "as the update said: \(truth)")
        #expect(server.groundTruth.member(kicked, in: guild).leaves == 1)
        #expect(server.groundTruth.member(banned, in: guild).leaves == 1)
        #expect(server.groundTruth.member(cast.plain[3], in: guild) == GroundTruth.Member(), "untouched members are not in it")
    }
}
