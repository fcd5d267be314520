import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// discord.py, as a moderation bot, acts through the simulator's REST API: its calls must be
/// accepted, recorded (with their audit-log reasons), refused where Discord refuses them, and
/// their effects must come back over the gateway as Discord sends them.
@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with discord.py (ops/test does)"))
struct DiscordPyRESTTests {
    struct Report: Decodable {
        let sent_message_id: String?
        let own_messages_seen: Int
        let fetched_member: String?
        let role_added_seen: Bool
        let bans_seen: [String]
        let removals_seen: [String]
        let owner_ban_error: [Int]?
        let long_message_error: [Int]?
        let interactions: Int
        let responses: Int
        let followups: Int
        let response_errors: [String]
    }

    @Test func discordPySendsAddsRolesBansAndAnswersInteractions() async throws {
        let world = TrafficWorld(guildCount: 4, userCount: 600, seed: 51)
        let cast = RESTEndpointTests.cast(in: world)
        // Enough live traffic that members use slash commands (one event in a thousand).
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 3_000, maxDispatchesPerSession: 40_000)
        // A loaded machine may slow discord.py past Discord's 3 s: the rule is tested elsewhere.
        configuration.interactionResponseSeconds = 30
        let server = try await SimulatorServer.start(configuration)
        let (member, banned) = (cast.plain[0], cast.plain[1])
        let role = try #require(cast.plainRoles.first { !cast.initialRoles(of: member).contains($0.id) })
        let output = try await DiscordPy.runScript("rest_actions.py", [
            server.apiBaseURL, server.gatewayURL + "/", configuration.token, cast.guild.id.description, cast.guild.channels[0].description,
            member.description, role.id.description, banned.description, cast.owner.description,
        ])
        let report = try JSONDecoder().decode(Report.self, from: output)
        try await server.stop()

        #expect(report.sent_message_id != nil)
        #expect(report.own_messages_seen == 1, "the bot's own message comes back as MESSAGE_CREATE")
        #expect(report.fetched_member == member.description)
        #expect(report.role_added_seen, "adding a role is announced with GUILD_MEMBER_UPDATE")
        #expect(report.bans_seen == [banned.description])
        // Members also leave on their own in the traffic; the ban removed the banned one.
        #expect(report.removals_seen.contains(banned.description))
        #expect(report.owner_ban_error == [403, 50013])
        #expect(report.long_message_error == [400, 50035])
        #expect(report.interactions > 0 && report.responses == report.interactions && report.followups == report.interactions, "\(report)")
        #expect(report.response_errors.isEmpty)

        let calls = server.record.rest
        let guild = cast.guild.id
        let send = try #require(calls.first { $0.route == "POST /channels/{channel.id}/messages" && $0.status == 200 })
        #expect(send.body.contains("Level 5") && send.body.contains("allowed_mentions"))
        let roleCall = try #require(calls.first { $0.path == "/api/v10/guilds/\(guild)/members/\(member)/roles/\(role.id)" })
        #expect(roleCall.method == "PUT" && roleCall.status == 204 && roleCall.auditLogReason == "Level 5 reward")
        let ban = try #require(calls.first { $0.path == "/api/v10/guilds/\(guild)/bans/\(banned)" })
        #expect(ban.status == 204 && ban.auditLogReason == "Raid account ✓" && ban.query == "delete_message_seconds=3600")
        #expect(calls.contains { $0.path == "/api/v10/guilds/\(guild)/members/\(member)" && $0.method == "GET" && $0.status == 200 })
        let callbacks = calls.filter { $0.route == "POST /interactions/{interaction.id}/{interaction.token}/callback" }
        #expect(callbacks.count == report.interactions && callbacks.allSatisfy { $0.status == 200 && $0.query == "with_response=1" })
        #expect(calls.filter { $0.route == "POST /webhooks/{application.id}/{interaction.token}" && $0.status == 200 }.count == report.followups)
    }
}

/// discord.py's AutoShardedClient takes its shard count from /gateway/bot and runs every shard:
/// each gets exactly its guilds and their traffic, so the messages it counts across all shards
/// equal the ground truth.
@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with discord.py (ops/test does)"))
struct DiscordPyShardingTests {
    struct Report: Decodable {
        let shard_count: Int?
        let shards_ready: [Int]
        let guilds_by_shard: [String: [String]]
        let messages_by_author: [String: Int]
        let messages: Int
    }

    @Test func autoShardedClientRunsTheRecommendedShards() async throws {
        let world = TrafficWorld(guildCount: 12, userCount: 800, seed: 61)
        var configuration = SimulatorConfiguration(
            world: world, dispatchesPerSecond: 400, maxDispatchesPerSession: 600, maxConcurrency: 2)
        configuration.recommendedShards = 2
        let server = try await SimulatorServer.start(configuration)
        let output = try await DiscordPy.runScript("autosharded.py", [server.apiBaseURL, server.gatewayURL + "/", configuration.token])
        let report = try JSONDecoder().decode(Report.self, from: output)
        try await server.stop()

        #expect(report.shard_count == 2)
        #expect(report.shards_ready.sorted() == [0, 1])
        for shard in 0..<2 {
            let expected = world.guilds.filter { ($0.id.rawValue >> 22) % 2 == UInt64(shard) }.map(\.id.description).sorted()
            #expect(report.guilds_by_shard[String(shard)]?.sorted() == expected)
        }
        let sessions = server.record.connections.filter { $0.sessionID != nil }
        #expect(sessions.map(\.shard).sorted { $0[0] < $1[0] } == [[0, 2], [1, 2]])
        #expect(server.identifyBucketViolations == 0)
        #expect(report.messages == sessions.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) })
        #expect(report.messages_by_author == DiscordPyHonestyTests.messagesByAuthor(server.groundTruth))
    }
}
