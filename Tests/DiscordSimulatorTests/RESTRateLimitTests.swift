import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Discord's rate-limit model as the simulator enforces it: bucket headers, buckets split by major
/// parameter and shared between routes, the global limit, 429 bodies and scopes, forced storms and
/// the invalid-request ban. Windows are stretched (tests assert behaviour, not timing: a loaded
/// machine must not see a window reset mid-test); the model's clock is tested with given times.
struct RESTRateLimitTests {
    static let world = TrafficWorld(guildCount: 6, userCount: 300, seed: 31)

    static func start(_ limits: RESTLimits = RESTLimits()) async throws -> (SimulatorServer, HTTPTestClient) {
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        configuration.restLimits = limits
        let server = try await SimulatorServer.start(configuration)
        return (server, HTTPTestClient(base: server.apiBaseURL, token: configuration.token))
    }

    @Test func aBucketAnswersWithHeadersAndRefusesPastItsLimit() async throws {
        let (server, client) = try await Self.start(RESTLimits(overrides: ["messages": .init(limit: 5, seconds: 600)]))
        let channel = Self.world.guilds[0].channels[0]
        var remaining: [String] = []
        for _ in 0..<5 {
            let response = try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "hi"])
            #expect(response.status == 200)
            #expect(response.header("X-RateLimit-Limit") == "5")
            #expect(response.header("X-RateLimit-Bucket")?.count == 32)
            #expect(Double(response.header("X-RateLimit-Reset-After") ?? "") ?? 0 > 500)
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
        #expect(retryAfter > 500 && retryAfter <= 600)
        #expect(Int(refused.header("Retry-After") ?? "") == Int(retryAfter.rounded(.up)))

        // The major parameter splits the group: another channel has its own bucket.
        let other = try await client.send("POST", "/channels/\(Self.world.guilds[0].channels[1])/messages", json: ["content": "hi"])
        #expect(other.status == 200 && other.header("X-RateLimit-Remaining") == "4")
        #expect(other.header("X-RateLimit-Bucket") == refused.header("X-RateLimit-Bucket"))
        #expect(server.record.rest.filter { $0.status == 429 }.map(\.scope) == ["user"])
        try await server.stop()
    }

    @Test func addingAndRemovingARoleShareOneBucket() async throws {
        let (server, client) = try await Self.start(RESTLimits(overrides: ["member-roles": .init(limit: 3, seconds: 600)]))
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

    @Test func theGlobalLimitRefusesPastItAndSparesInteractionCallbacks() async throws {
        let (server, client) = try await Self.start(RESTLimits(globalPerSecond: 4, globalWindowSeconds: 600))
        for index in 0..<4 {
            let response = try await client.send("POST", "/channels/\(Self.world.guilds[index].channels[0])/messages", json: ["content": "x"])
            #expect(response.status == 200)
        }
        let refused = try await client.send("POST", "/channels/\(Self.world.guilds[4].channels[0])/messages", json: ["content": "x"])
        #expect(refused.status == 429)
        #expect(refused.header("X-RateLimit-Global") == "true" && refused.header("X-RateLimit-Scope") == "global")
        #expect(refused.object["global"] as? Bool == true)
        #expect((refused.object["retry_after"] as? Double ?? 0) > 500)
        // Callbacks are exempt: an unknown interaction is answered 10062, not 429.
        let callback = try await client.send("POST", "/interactions/1234567890123/token/callback", json: ["type": 5])
        #expect(callback.status == 404 && callback.object["code"] as? Int == 10062)
        try await server.stop()
    }

    @Test func theGlobalWindowSlidesSoNoOneSecondSpanExceedsTheLimit() {
        let model = RateLimitModel(limits: RESTLimits(globalPerSecond: 3))
        let routes = (0..<10).map { RESTRoute.match(method: "POST", path: "/channels/\(1_000 + $0)/messages")! }
        func admitted(_ index: Int, at time: Double) -> Bool {
            if case .allowed = model.admit(routes[index], at: time) { return true }
            return false
        }
        #expect(admitted(0, at: 0.0) && admitted(1, at: 0.5) && admitted(2, at: 0.9))
        // A fixed window would start afresh at 1.0; a sliding one still holds 0.5 and 0.9.
        #expect(admitted(3, at: 1.01))
        #expect(!admitted(4, at: 1.2))
        guard case .limited(let limited) = model.admit(routes[5], at: 1.3) else {
            Issue.record("expected a global 429")
            return
        }
        #expect(limited.isGlobal && abs(limited.retryAfter - 0.2) < 1e-9)
        // The interaction endpoints are not bound to the global limit, and do not count towards it.
        for path in ["POST /interactions/9/t/callback", "POST /webhooks/7/t", "PATCH /webhooks/7/t/messages/@original", "DELETE /webhooks/7/t/messages/11"] {
            let parts = path.split(separator: " ").map(String.init)
            let route = RESTRoute.match(method: parts[0], path: parts[1])!
            guard case .allowed = model.admit(route, at: 1.3) else {
                Issue.record("\(path) was held by the global limit")
                continue
            }
        }
        #expect(admitted(6, at: 1.51))
    }

    @Test func limitsAreKeptPerTokenNotForEveryone() {
        var model = RateLimitModel(limits: RESTLimits(globalPerSecond: 3))
        let me = RESTRoute.match(method: "GET", path: "/users/@me")!
        let messages = (0..<4).map { RESTRoute.match(method: "POST", path: "/channels/\(2_000 + $0)/messages")! }
        func admitted(_ route: RESTRoute, _ caller: String, at time: Double) -> Bool {
            if case .allowed = model.admit(route, caller: caller, at: time) { return true }
            return false
        }
        // The bot spends its global allowance; a user's bearer token still has its own.
        #expect(admitted(messages[0], "bot", at: 0) && admitted(messages[1], "bot", at: 0.1) && admitted(messages[2], "bot", at: 0.2))
        #expect(!admitted(messages[3], "bot", at: 0.3))
        #expect(admitted(me, "user:1", at: 0.3))
        // A bucket the bot emptied is full for a user, and one user's does not drain another's.
        model = RateLimitModel(limits: RESTLimits(globalPerSecond: 1_000))
        let bucket = RESTLimits().bucket(for: me.bucketGroup).limit
        let later = 5.0
        var spent = 0
        while admitted(me, "bot", at: later), spent < 1_000 { spent += 1 }
        #expect(spent == bucket)
        #expect(admitted(me, "user:2", at: later))
        #expect(!admitted(me, "bot", at: later))
    }

    @Test func aBucketWindowStartsWithItsFirstRequestAndResets() {
        let model = RateLimitModel(limits: RESTLimits(overrides: ["messages": .init(limit: 2, seconds: 5)]))
        let route = RESTRoute.match(method: "POST", path: "/channels/42/messages")!
        guard case .allowed(let first) = model.admit(route, at: 10), case .allowed = model.admit(route, at: 11),
              case .limited(let limited) = model.admit(route, at: 14.5), case .allowed(let fresh) = model.admit(route, at: 15)
        else {
            Issue.record("expected allowed, allowed, limited, allowed")
            return
        }
        #expect(first.first { $0.0 == "X-RateLimit-Reset-After" }?.1 == "5.000")
        #expect(limited.scope == "user" && abs(limited.retryAfter - 0.5) < 1e-9)
        #expect(fresh.first { $0.0 == "X-RateLimit-Remaining" }?.1 == "1")
    }

    @Test func aForcedStormRefusesTheNextRequestsThenServesAgain() async throws {
        let (server, client) = try await Self.start()
        server.forceRateLimits(count: 3, retryAfter: 0.25, scope: "shared")
        var responses: [HTTPTestClient.Response] = []
        for _ in 0..<4 { responses.append(try await client.send("GET", "/users/@me")) }
        #expect(responses.map(\.status) == [429, 429, 429, 200])
        // A shared resource's limit, in Discord's words, with the caller's own bucket untouched.
        #expect(responses[0].object["message"] as? String == "The resource is being rate limited.")
        #expect(responses[0].header("X-RateLimit-Scope") == "shared" && responses[0].header("X-RateLimit-Remaining").flatMap(Int.init).map { $0 > 0 } == true)
        // `shared` 429s do not count as invalid requests.
        #expect(server.invalidRESTRequests.inWindow == 0)
        // A bucket's 429 names the bucket, as Discord's do.
        server.forceRateLimits(count: 1, retryAfter: 0.25, scope: "user")
        let named = try await client.send("GET", "/users/@me")
        #expect(named.status == 429 && named.header("X-RateLimit-Bucket") != nil && named.header("X-RateLimit-Remaining") == "0")
        // Nonsense on the control endpoint is refused, not obeyed.
        let origin = server.apiBaseURL.replacingOccurrences(of: "/api/v10", with: "")
        for query in ["count=1&retry_after=inf", "count=1&retry_after=1e300", "count=1&retry_after=-1", "count=x&retry_after=1"] {
            #expect(try await client.send("POST", origin + "/_simulator/rate-limit?" + query).status == 400)
        }
        #expect(try await client.send("GET", "/users/@me").status == 200)
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
        // The address is banned, not the route: a bad token, OAuth and an unknown path get the same.
        for (client, method, path) in [(stranger, "GET", "/users/@me"), (honest, "POST", "/oauth2/token"), (honest, "GET", "/no/such/route")] {
            let response = try await client.send(method, path)
            #expect(response.status == 429 && response.text == "error code: 1015", "\(method) \(path)")
        }
        #expect(server.invalidRESTRequests.bans == 1, "requests refused while banned are not counted again")
        try await server.stop()
    }
}
