import DiscordModels
import DiscordSimulator
import Foundation
import Testing
@testable import DiscordREST

/// The client against the simulator, which enforces Discord's limits and records every request:
/// the simulator's record, not the client's own account, says whether a limit was crossed.
struct RESTClientSimulatorTests {
    static let world = TrafficWorld(guildCount: 40, userCount: 1_500, seed: 71)

    static func start(
        _ limits: RESTLimits, client: (inout RESTClientConfiguration) -> Void = { _ in }
    ) async throws -> (SimulatorServer, DiscordRESTClient) {
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        configuration.restLimits = limits
        let server = try await SimulatorServer.start(configuration)
        var clientConfiguration = RESTClientConfiguration(
            apiBaseURL: server.apiBaseURL, token: configuration.token, globalLimit: limits.globalPerSecond,
            globalWindowSeconds: limits.globalWindowSeconds)
        client(&clientConfiguration)
        return (server, DiscordRESTClient(configuration: clientConfiguration))
    }

    /// The most requests the record holds within any span of `window` seconds.
    static func busiestWindow(_ calls: [RESTCall], window: Double) -> Int {
        let times = calls.map(\.at).sorted()
        var start = 0
        var most = 0
        for end in times.indices {
            while times[end] - times[start] >= window { start += 1 }
            most = max(most, end - start + 1)
        }
        return most
    }

    @Test func tenThousandRequestsAcrossFiveHundredBucketsNeverTripALimit() async throws {
        // The client keeps 10% below the simulator's global limit, as a bot behind a queue of
        // connections should: what the limiter lets go reaches the server a little later.
        let (server, client) = try await Self.start(RESTLimits(globalPerSecond: 2_000, windowScale: 0.02)) { $0.globalLimit = 1_800 }
        let channels = Array(Self.world.guilds.flatMap(\.channels).prefix(500))
        try #require(channels.count == 500)
        let requests = (0..<10_000).map { channels[$0 % 500] }
        let succeeded = try await withThrowingTaskGroup(of: Int.self) { group in
            var next = 0
            var done = 0
            for _ in 0..<64 {
                let channel = requests[next]
                next += 1
                group.addTask { _ = try await client.createMessage(in: channel, MessageCreate(content: "hello")); return 1 }
            }
            while let one = try await group.next() {
                done += one
                if next < requests.count {
                    let channel = requests[next]
                    next += 1
                    group.addTask { _ = try await client.createMessage(in: channel, MessageCreate(content: "hello")); return 1 }
                }
            }
            return done
        }
        #expect(succeeded == 10_000)
        let calls = server.record.rest.filter { $0.route == "POST /channels/{channel.id}/messages" }
        #expect(calls.count == 10_000, "nothing was sent twice")
        #expect(calls.filter { $0.status == 429 }.isEmpty)
        #expect(Self.busiestWindow(calls, window: 1) <= 2_000)
        try await server.stop()
    }

    @Test func aStormOf429sEndsWithEveryRequestAppliedExactlyOnce() async throws {
        let (server, client) = try await Self.start(RESTLimits())
        server.forceRateLimits(count: 30, retryAfter: 0.05, scope: "user")
        let channels = Self.world.guilds.prefix(20).map { $0.channels[0] }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, channel) in channels.enumerated() {
                group.addTask { _ = try await client.createMessage(in: channel, MessageCreate(content: "storm \(index)")) }
            }
            try await group.waitForAll()
        }
        let calls = server.record.rest.filter { $0.route == "POST /channels/{channel.id}/messages" }
        #expect(calls.filter { $0.status == 429 }.count == 30)
        for index in 0..<20 {
            #expect(calls.filter { $0.status == 200 && $0.body.contains("\"storm \(index)\"") }.count == 1)
        }
        // After each 429 the same channel was not asked again before retry_after passed.
        for (offset, call) in calls.enumerated() where call.status == 429 {
            if let next = calls[(offset + 1)...].first(where: { $0.path == call.path }) {
                #expect(next.at - call.at >= 0.05, "resent \(next.at - call.at) s after a 429 asking for 0.05 s")
            }
        }
        server.forceRateLimits(count: 5, retryAfter: 0.05, scope: "global")
        _ = try await client.currentUser()
        #expect(server.record.rest.suffix(6).map(\.status) == [429, 429, 429, 429, 429, 200])
        try await server.stop()
    }

    @Test func aServerErrorOnAPostIsNotSentAgainButAGetIsRetried() async throws {
        let (server, client) = try await Self.start(RESTLimits()) { $0.firstBackoff = .milliseconds(10) }
        let channel = Self.world.guilds[0].channels[0]
        server.forceServerErrors(count: 1, status: 502)
        await #expect(throws: RESTError(.serverError(status: 502))) {
            _ = try await client.createMessage(in: channel, MessageCreate(content: "once"))
        }
        #expect(server.record.rest.filter { $0.body.contains("\"once\"") }.count == 1)
        let guild = Self.world.guilds[0]
        let user = Self.world.users[guild.members[1]].id
        server.forceServerErrors(count: 2, status: 500)
        let member = try await client.member(user, in: guild.id)
        #expect(member.user?.id == user)
        #expect(server.record.rest.filter { $0.method == "GET" }.map(\.status) == [500, 500, 200])
        try await server.stop()
    }

    /// A 5xx from before the service (Discord's gateway or an upstream down) applies nothing: the
    /// member has no role when every try of the PUT failed so.
    @Test func aServerErrorBeforeTheServiceAppliesNothing() async throws {
        let (server, client) = try await Self.start(RESTLimits()) { $0.firstBackoff = .milliseconds(10) }
        let guild = Self.world.guilds[0]
        let user = Self.world.users[guild.members[1]].id
        let held = try await client.member(user, in: guild.id).roles
        let role = try #require(guild.roles.first { !held.contains($0) })
        server.forceServerErrors(count: 10, status: 503, applied: false)
        await #expect(throws: RESTError(.serverError(status: 503))) { try await client.addRole(role, to: user, in: guild.id, reason: nil) }
        server.forceServerErrors(count: 0)
        #expect(try await client.member(user, in: guild.id).roles == held, "nothing applied")
        try await client.addRole(role, to: user, in: guild.id, reason: nil)
        #expect(try await client.member(user, in: guild.id).roles.contains(role))
        try await server.stop()
    }

    /// With `enforce_nonce`, a create sent again (its answer lost) is answered with the message the
    /// first made, as Discord does, and posts nothing twice; without it, or with another nonce, a
    /// new message is made. A nonce past 25 characters is refused.
    @Test func aCreateWithAnEnforcedNonceIsMadeOnce() async throws {
        let (server, client) = try await Self.start(RESTLimits())
        let channel = Self.world.guilds[0].channels[0]
        let once = MessageCreate(content: "level up", nonce: "lu123", enforceNonce: true)
        let first = try await client.createMessage(in: channel, once)
        let again = try await client.createMessage(in: channel, once)
        #expect(first.id == again.id)
        let other = try await client.createMessage(in: channel, MessageCreate(content: "level up", nonce: "lu124", enforceNonce: true))
        let unenforced = try await client.createMessage(in: channel, MessageCreate(content: "level up", nonce: "lu123"))
        #expect(Set([first.id, other.id, unenforced.id]).count == 3)
        await #expect(throws: RESTError.self) {
            _ = try await client.createMessage(in: channel, MessageCreate(content: "x", nonce: String(repeating: "9", count: 26), enforceNonce: true))
        }
        #expect(server.record.rest.last?.status == 400)
        try await server.stop()
    }

    @Test func theInvalidRequestGuardStopsBeforeDiscordWouldBan() async throws {
        // Kicks are 5 per 5 s: windows shortened a hundredfold (the 10-minute count stretched to match).
        let limits = RESTLimits(windowScale: 0.01, invalidRequestLimit: 100, invalidRequestWindowSeconds: 60_000)
        let (server, client) = try await Self.start(limits) { $0.invalidRequestLimit = 60 }
        let guild = Self.world.guilds[0]
        let owner = Self.world.users[guild.members[0]].id
        var refusedLocally = false
        for _ in 0..<80 {
            do {
                try await client.kick(owner, from: guild.id)
            } catch {
                if case .invalidRequestBudgetExhausted = error.kind {
                    refusedLocally = true
                    break
                }
                #expect(error.isMissingPermissions)
            }
        }
        #expect(refusedLocally)
        #expect(server.record.rest.filter { $0.status == 403 }.count == 60)
        #expect(server.invalidRESTRequests.bans == 0)
        #expect(client.invalidRequests == 60)
        try await server.stop()
    }

    /// A 401 means the token is not valid: the client sends nothing more with it.
    @Test func afterA401NothingMoreIsSent() async throws {
        let (server, client) = try await Self.start(RESTLimits()) { $0.token = "reset.bot.token" }
        await #expect(throws: RESTError(.discord(status: 401, code: 0, message: "401: Unauthorized"))) { try await client.currentUser() }
        let calls = server.record.rest.count
        for _ in 0..<3 {
            await #expect(throws: RESTError(.tokenRefused)) { try await client.gatewayBot() }
        }
        #expect(server.record.rest.count == calls, "nothing sent after the 401")
        #expect(client.invalidRequests == 1)
        try await server.stop()
    }

    /// A token the HTTP client refuses to put in a header is not quoted in the error it gives.
    @Test func aTokenNeverAppearsInATransportError() async throws {
        let (server, client) = try await Self.start(RESTLimits()) { $0.token = "MTIz.secret\r" }
        do {
            _ = try await client.currentUser()
            Issue.record("a header with a carriage return was sent")
        } catch {
            #expect(!"\(error)".contains("MTIz.secret"), "\(error)")
        }
        try await server.stop()
    }

    @Test func discordsErrorsArriveTypedAndReasonsAreEncoded() async throws {
        let (server, client) = try await Self.start(RESTLimits())
        let guild = Self.world.guilds[0]
        do {
            _ = try await client.createMessage(in: guild.channels[0], MessageCreate(content: String(repeating: "x", count: 2_001)))
            Issue.record("a 2,001-character message was accepted")
        } catch {
            #expect(error.isInvalidFormBody)
            #expect(error.fieldErrors.map(\.path) == ["content"] && error.fieldErrors.first?.code == "BASE_TYPE_MAX_LENGTH")
        }
        await #expect(throws: RESTError(.discord(status: 404, code: 10007, message: "Unknown Member"))) {
            _ = try await client.member(UserID(12_345), in: guild.id)
        }
        let target = Self.world.users[guild.members.last!].id
        try await client.ban(target, from: guild.id, deleteMessageSeconds: 3_600, reason: "Raid wave — compte créé il y a 2 min")
        let ban = try #require(server.record.rest.last { $0.route == "PUT /guilds/{guild.id}/bans/{user.id}" })
        #expect(ban.status == 204 && ban.auditLogReason == "Raid wave — compte créé il y a 2 min")
        // 600 graphemes of 11 scalars each: the reason keeps 512 scalars, not 512 graphemes.
        let zalgo = String(repeating: "e" + String(repeating: "\u{301}", count: 10), count: 600)
        try await client.unban(target, from: guild.id, reason: zalgo)
        let unban = try #require(server.record.rest.last { $0.route == "DELETE /guilds/{guild.id}/bans/{user.id}" })
        #expect(unban.auditLogReason?.unicodeScalars.count == 512)
        let bot = try await client.currentUser()
        #expect(bot.id == server.configuration.botUserID && bot.bot == true)
        #expect(server.record.rest.allSatisfy { $0.userAgent?.hasPrefix("DiscordBot (https://") == true })
        let gateway = try await client.gatewayBot()
        #expect(gateway.url == server.gatewayURL && gateway.sessionStartLimit.maxConcurrency == 1)
        try await server.stop()
    }

    /// An answer whose body cannot be read (here: larger than the transport takes) still has its
    /// status and headers: an error is Discord's error, not a lost connection to retry, a 429's
    /// `Retry-After` is honoured, and a success is retried only where that is safe.
    @Test func anAnswerWhoseBodyIsLostKeepsItsStatusAndHeaders() async throws {
        var configuration = SimulatorConfiguration(world: Self.world, dispatchesPerSecond: 0)
        configuration.restLimits = RESTLimits()
        let server = try await SimulatorServer.start(configuration)
        var clientConfiguration = RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: configuration.token)
        clientConfiguration.firstBackoff = .milliseconds(10)
        let client = DiscordRESTClient(configuration: clientConfiguration, transport: AsyncHTTPClientTransport(maxBodyBytes: 16))
        let guild = Self.world.guilds[0]
        server.forceRateLimits(count: 1, retryAfter: 0.2)
        await #expect(throws: RESTError(.discord(status: 404, code: 0, message: "HTTP 404"))) {
            _ = try await client.member(UserID(12_345), in: guild.id)
        }
        let lookups = server.record.rest.filter { $0.route == "GET /guilds/{guild.id}/members/{user.id}" }
        #expect(lookups.map(\.status) == [429, 404], "the 429 waited out by its header, the 404 not retried")
        do {
            _ = try await client.gatewayBot()
            Issue.record("a success whose body was lost was taken for an answer")
        } catch {
            guard case .transport(let description) = error.kind else { throw error }
            #expect(description.contains("HTTP 200"))
        }
        #expect(server.record.rest.filter { $0.route == "GET /gateway/bot" }.count == 1 + clientConfiguration.maxRetries, "a GET is safe to send again")
        try await server.stop()
    }

    @Test func aDeadlineEndsTheWaitAndCancellationToo() async throws {
        let (server, client) = try await Self.start(RESTLimits())
        // A wait that would leave too little time for the answer (less than a quarter of the
        // deadline, here) ends the request at once, unsent: sent, Discord might do it and the
        // caller be told it failed.
        server.forceRateLimits(count: 1, retryAfter: 0.9, scope: "global")
        /// Whether `error` says a rate limit held the request back for about `seconds`.
        func rateLimited(_ error: any Error, about seconds: Double) -> Bool {
            guard case .rateLimited(let retryAfter)? = (error as? RESTError)?.kind else { return false }
            return abs(retryAfter - seconds) < 0.5
        }
        await #expect { _ = try await client.send(Route(.get, "/users/@me"), deadline: .seconds(1)) } throws: { rateLimited($0, about: 0.9) }
        #expect(server.record.rest.filter { $0.route == "GET /users/@me" }.count == 1, "only the request answered 429")
        try await Task.sleep(for: .seconds(1))
        server.forceRateLimits(count: 1, retryAfter: 30, scope: "global")
        // Had the client waited out the 30 s, the request would have succeeded: the error is the
        // proof, and says it was a rate limit, not a timeout.
        await #expect { _ = try await client.send(Route(.get, "/users/@me"), deadline: .milliseconds(300)) } throws: { rateLimited($0, about: 30) }
        let waiting = Task { try await client.send(Route(.get, "/users/@me"), deadline: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        await #expect(throws: RESTError(.cancelled)) { _ = try await waiting.value }
        try await server.stop()
    }
}
