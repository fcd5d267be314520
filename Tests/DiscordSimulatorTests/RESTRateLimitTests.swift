import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Discord's rate-limit model as the simulator enforces it: bucket headers, buckets split by major
/// parameter and shared between routes, the global limit, 429 bodies and scopes, forced storms and
/// the invalid-request ban.
struct RESTRateLimitTests {
    static let world = TrafficWorld(guildCount: 6, userCount: 300, seed: 31)

    static func start(_ limits: RESTLimits = RESTLimits()) async throws -> (SimulatorServer, HTTPTestClient) {
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        configuration.restLimits = limits
        let server = try await SimulatorServer.start(configuration)
        return (server, HTTPTestClient(base: server.apiBaseURL, token: configuration.token))
    }

    @Test func aBucketAnswersWithHeadersAndRefusesPastItsLimit() async throws {
        let (server, client) = try await Self.start()
        let channel = Self.world.guilds[0].channels[0]
        var remaining: [String] = []
        for _ in 0..<5 {
            let response = try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "hi"])
            #expect(response.status == 200)
            #expect(response.header("X-RateLimit-Limit") == "5")
            #expect(response.header("X-RateLimit-Bucket")?.count == 32)
            #expect(Double(response.header("X-RateLimit-Reset-After") ?? "") ?? 0 > 0)
            #expect(Double(response.header("X-RateLimit-Reset") ?? "") ?? 0 > Date().timeIntervalSince1970 - 1)
            remaining.append(response.header("X-RateLimit-Remaining") ?? "")
        }
        #expect(remaining == ["4", "3", "2", "1", "0"])
        let refused = try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "hi"])
        #expect(refused.status == 429)
        #expect(refused.header("X-RateLimit-Scope") == "user")
        #expect(refused.header("X-RateLimit-Global") == nil)
        #expect(refused.object["global"] as? Bool == false)
        #expect(refused.object["message"] as? String == "You are being rate limited.")
        let retryAfter = try #require(refused.object["retry_after"] as? Double)
        #expect(retryAfter > 0 && retryAfter <= 5)
        #expect(Int(refused.header("Retry-After") ?? "") == Int(retryAfter.rounded(.up)))

        // The major parameter splits the group: another channel has its own bucket.
        let other = try await client.send("POST", "/channels/\(Self.world.guilds[0].channels[1])/messages", json: ["content": "hi"])
        #expect(other.status == 200 && other.header("X-RateLimit-Remaining") == "4")
        #expect(other.header("X-RateLimit-Bucket") == refused.header("X-RateLimit-Bucket"))
        #expect(server.record.rest.filter { $0.status == 429 }.map(\.scope) == ["user"])
        try await server.stop()
    }

    @Test func addingAndRemovingARoleShareOneBucket() async throws {
        let (server, client) = try await Self.start(RESTLimits(overrides: ["member-roles": .init(limit: 3, seconds: 10)]))
        let guild = Self.world.guilds[0]
        let role = Self.world.roles(of: guild).first { !$0.managed && $0.name.hasPrefix("role-") }!.id
        let member = Self.world.users[guild.members[1]].id
        let add = try await client.send("PUT", "/guilds/\(guild.id)/members/\(member)/roles/\(role)")
        let remove = try await client.send("DELETE", "/guilds/\(guild.id)/members/\(member)/roles/\(role)")
        let again = try await client.send("PUT", "/guilds/\(guild.id)/members/\(member)/roles/\(role)")
        #expect([add.status, remove.status, again.status] == [Int](repeating: 204, count: 3))
        #expect(add.header("X-RateLimit-Bucket") == remove.header("X-RateLimit-Bucket"))
        #expect(again.header("X-RateLimit-Remaining") == "0")
        let refused = try await client.send("DELETE", "/guilds/\(guild.id)/members/\(member)/roles/\(role)")
        #expect(refused.status == 429)
        try await server.stop()
    }

    @Test func theGlobalLimitCoversAnyOneSecondAndSparesInteractionCallbacks() async throws {
        let (server, client) = try await Self.start(RESTLimits(globalPerSecond: 4))
        for index in 0..<4 {
            let response = try await client.send("POST", "/channels/\(Self.world.guilds[index].channels[0])/messages", json: ["content": "x"])
            #expect(response.status == 200)
        }
        let refused = try await client.send("POST", "/channels/\(Self.world.guilds[4].channels[0])/messages", json: ["content": "x"])
        #expect(refused.status == 429)
        #expect(refused.header("X-RateLimit-Global") == "true" && refused.header("X-RateLimit-Scope") == "global")
        #expect(refused.object["global"] as? Bool == true)
        // Callbacks are exempt: an unknown interaction is answered 10062, not 429.
        let callback = try await client.send("POST", "/interactions/1234567890123/token/callback", json: ["type": 5])
        #expect(callback.status == 404 && callback.object["code"] as? Int == 10062)
        let retryAfter = try #require(refused.object["retry_after"] as? Double)
        try await Task.sleep(for: .milliseconds(Int(retryAfter * 1_000) + 50))
        let later = try await client.send("POST", "/channels/\(Self.world.guilds[4].channels[0])/messages", json: ["content": "x"])
        #expect(later.status == 200)
        try await server.stop()
    }

    @Test func aForcedStormRefusesTheNextRequestsThenServesAgain() async throws {
        let (server, client) = try await Self.start()
        server.forceRateLimits(count: 3, retryAfter: 0.25, scope: "shared")
        var statuses: [Int] = []
        for _ in 0..<4 { statuses.append(try await client.send("GET", "/users/@me").status) }
        #expect(statuses == [429, 429, 429, 200])
        // `shared` 429s do not count as invalid requests.
        #expect(server.invalidRESTRequests.inWindow == 0)
        try await server.stop()
    }

    @Test func tooManyInvalidRequestsGetTheClientBanned() async throws {
        let (server, _) = try await Self.start(RESTLimits(invalidRequestLimit: 20, banSeconds: 60))
        let stranger = HTTPTestClient(base: server.apiBaseURL, token: "wrong.token")
        for _ in 0..<20 {
            #expect(try await stranger.send("GET", "/users/@me").status == 401)
        }
        #expect(server.invalidRESTRequests.bans == 1)
        let honest = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let banned = try await honest.send("GET", "/users/@me")
        #expect(banned.status == 429 && banned.text == "error code: 1015")
        try await server.stop()
    }
}
