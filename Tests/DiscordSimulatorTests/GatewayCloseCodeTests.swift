import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Every identify mistake gets the close code Discord sends, checked with a plain WebSocket client.
@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct GatewayCloseCodeTests {
    @Test func identifyMistakesGetDiscordsCloseCodes() async throws {
        // Several cases identify one after another: a short identify window, so none waits.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 3, userCount: 100, seed: 1), dispatchesPerSecond: 0, identifyWindowMilliseconds: 1))
        let output = try await DiscordPy.runScript("close_codes.py", [server.gatewayURL + "/", server.configuration.token])
        let codes = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Int])
        #expect(codes == [
            "bad_token": Int(GatewayCloseCode.authenticationFailed.rawValue),
            "invalid_intents": Int(GatewayCloseCode.invalidIntents.rawValue),
            "disallowed_intents": Int(GatewayCloseCode.disallowedIntents.rawValue),
            "bad_shard": Int(GatewayCloseCode.invalidShard.rawValue),
            "shard_of_strings": Int(GatewayCloseCode.decodeError.rawValue),
            "shard_of_booleans": Int(GatewayCloseCode.decodeError.rawValue),
            "intents_fraction": Int(GatewayCloseCode.decodeError.rawValue),
            "intents_boolean": Int(GatewayCloseCode.decodeError.rawValue),
            "version_6": Int(GatewayCloseCode.invalidAPIVersion.rawValue),
            "no_version": Int(GatewayCloseCode.invalidAPIVersion.rawValue),
            "unmasked_frame": 1002,
            // One close frame each, the simulator's (for a frame over the limit NIO's own error
            // handling would send 1009 first; an unmasked frame never reached it).
            "unmasked_frame_closes": 1,
            "huge_frame": Int(GatewayCloseCode.decodeError.rawValue),
            "huge_frame_closes": 1,
            "before_identify": Int(GatewayCloseCode.notAuthenticated.rawValue),
            "second_identify": Int(GatewayCloseCode.alreadyAuthenticated.rawValue),
            "presence_not_an_object": Int(GatewayCloseCode.unknownOpcode.rawValue),
            "members_of_no_guild": Int(GatewayCloseCode.unknownOpcode.rawValue),
            "not_json": Int(GatewayCloseCode.decodeError.rawValue),
            "no_intents": Int(GatewayCloseCode.invalidIntents.rawValue),
            "too_large": Int(GatewayCloseCode.decodeError.rawValue),
        ])
        #expect(server.record.connections.compactMap(\.closeCode).count == 19)
        try await server.stop()
    }

    /// After an op 9 the connection is no longer authenticated: a payload other than a heartbeat,
    /// an identify or a resume gets 4003, and an identify on it starts a new session. READY says
    /// which gateway version the connection asked for.
    @Test func anInvalidatedConnectionIsNoLongerAuthenticated() async throws {
        // Four identifies in quick succession: a short identify window, so none waits for its bucket.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 3, userCount: 100, seed: 1), dispatchesPerSecond: 0, identifyWindowMilliseconds: 1))
        async let output = DiscordPy.runScript("invalid_session.py", [server.gatewayURL + "/", server.configuration.token])
        // Into the first connection once identified, then into the second. An injection runs on
        // the connection's event loop: the next waits until it was sent, so that the first
        // connection's session has ended and is not injected twice.
        let sent = { server.record.connections.map(\.invalidSessionsSent).reduce(0, +) }
        for injection in 1...2 {
            let deadline = ContinuousClock.now + .seconds(30)
            while server.inject(.invalidSession(resumable: false)) == 0, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            while sent() < injection, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        struct Result: Decodable {
            let after_invalid_session: Int
            let identified_again: Bool
            let ready_version_9: Int
        }
        let result = try JSONDecoder().decode(Result.self, from: try await output)
        try await server.stop()
        #expect(result.after_invalid_session == Int(GatewayCloseCode.notAuthenticated.rawValue))
        #expect(result.identified_again)
        #expect(result.ready_version_9 == 9)
        #expect(server.record.connections.map(\.invalidSessionsSent) == [1, 1, 0])
    }

    @Test func shardsGetTheirGuildsByDiscordsFormula() {
        let world = TrafficWorld(guildCount: 200, userCount: 500, seed: 3)
        let payloads = WorldPayloads(configuration: SimulatorConfiguration(world: world))
        let split = (0..<4).map { payloads.guilds(shard: $0, of: 4) }
        #expect(split.map(\.count).reduce(0, +) == 200)
        for (shard, guilds) in split.enumerated() {
            #expect(guilds.allSatisfy { Int(($0.id.rawValue >> 22) % 4) == shard })
        }
    }
}

@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct RequestGuildMembersTests {
    struct Result: Decodable, Equatable {
        let members: [String]
        let not_found: [String]
        let chunks: Int
    }

    @Test func everyFormOfOpEightIsAnswered() async throws {
        let world = TrafficWorld(guildCount: 2, userCount: 2_500, seed: 8)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 0, identifyWindowMilliseconds: 200))
        let guild = world.guilds[0]
        let member = world.users[guild.members[0]]
        let prefix = String(member.username.prefix(2))
        let output = try await DiscordPy.runScript(
            "member_requests.py", [server.gatewayURL + "/", server.configuration.token, guild.id.description, prefix, member.id.description])
        let results = try JSONDecoder().decode([String: Result].self, from: output)
        try await server.stop()

        let all = try #require(results["all"])
        #expect(all.members.count == guild.members.count + 1)
        #expect(all.chunks == (guild.members.count + 1 + 999) / 1_000)
        // Members are listed in the order they joined.
        let matching = guild.members.indices.sorted { guild.joinedAt[$0] < guild.joinedAt[$1] }
            .map { world.users[guild.members[$0]].username }.filter { $0.lowercased().hasPrefix(prefix.lowercased()) }
        #expect(results["prefix"]?.members == Array(matching.prefix(2)))
        #expect(results["users"] == Result(members: [member.username], not_found: ["1"], chunks: 1))
        #expect(results["again"] == Result(members: ["8", guild.id.description, "again"], not_found: ["waits"], chunks: 0),
                "a whole guild asked for twice within 30 s: RATE_LIMITED")
        #expect(results["sounds"] == Result(members: [guild.id.description], not_found: [], chunks: 0),
                "op 31: one SOUNDBOARD_SOUNDS (no sounds) for the session's guild, none for another")
        #expect(results["channels"] == Result(members: [guild.id.description], not_found: [], chunks: 0),
                "op 43: one CHANNEL_INFO (no voice channels) for the session's guild, none for another")
        #expect(results["without_intent"] == Result(members: ["prefix"], not_found: [], chunks: 0),
                "without GUILD_MEMBERS an empty query goes unanswered even with a limit; a prefix is answered")
    }
}

@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct HeartbeatAndStreamFaultTests {
    struct Findings: Decodable {
        let request_heartbeat_sessions: Int
        let server_asked_for_heartbeat: Bool
        let ack_before_silence: Bool
        let ack_after_silence: Bool
        let corrupt_message_refused: Bool
        let zlib_says: String?
        let unknown_kind_status: Int
    }

    @Test func faultsRequestedThroughTheControlEndpointHappen() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 2, userCount: 50, seed: 5), dispatchesPerSecond: 0))
        let output = try await DiscordPy.runScript(
            "heartbeat_faults.py", [server.apiBaseURL, server.gatewayURL + "/", server.configuration.token])
        let findings = try JSONDecoder().decode(Findings.self, from: output)
        try await server.stop()
        #expect(findings.request_heartbeat_sessions == 1)
        #expect(findings.server_asked_for_heartbeat)
        #expect(findings.ack_before_silence)
        #expect(!findings.ack_after_silence)
        #expect(findings.corrupt_message_refused, "zlib accepted the corrupted message")
        #expect(findings.zlib_says?.contains("invalid block type") == true)
        #expect(findings.unknown_kind_status == 400)
    }
}

@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct IdentifyLimitTests {
    @Test func bucketsBudgetAndSendLimitAreEnforcedAsDiscordDoes() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 8, userCount: 100, seed: 6), dispatchesPerSecond: 0,
            maxConcurrency: 2, identifyWindowMilliseconds: 1_500, sessionStartLimit: 4, clientSendLimit: 10))
        let output = try await DiscordPy.runScript("identify_limits.py", [server.apiBaseURL, server.gatewayURL + "/", server.configuration.token])
        let found = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        try await server.stop()

        #expect(found["eleven_sends"] as? String == "close:4008")
        let before = try #require(found["limit_before"] as? [String: Any])
        #expect(before["total"] as? Int == 4 && before["remaining"] as? Int == 4 && before["max_concurrency"] as? Int == 2)
        #expect(found["shard_0"] as? String == "READY")
        #expect(found["shard_2_same_bucket"] as? String == "op9:false")
        #expect(found["shard_1_other_bucket"] as? String == "READY")
        #expect(found["shard_2_after_window"] as? String == "READY")
        #expect((found["limit_after_three"] as? [String: Any])?["remaining"] as? Int == 1)
        #expect(found["shard_3"] as? String == "READY")
        #expect(found["budget_spent"] as? String == "close:4004")
        #expect(found["running_session_after_reset"] as? String == "close:4004")
        #expect(found["rest_after_reset"] as? Int == 401)
        #expect(server.identifyBucketViolations == 1)
    }
}

@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct ZombieConnectionTests {
    @Test func aClientThatStopsHeartbeatingTimesOutAndItsSessionEnds() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 1_500, world: TrafficWorld(guildCount: 2, userCount: 50, seed: 9), dispatchesPerSecond: 0,
            identifyWindowMilliseconds: 10))
        let output = try await DiscordPy.runScript("zombie.py", [server.gatewayURL + "/", server.configuration.token, "1500"])
        let found = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        try await server.stop()
        #expect(found["hello_interval_ms"] as? Int == 1_500)
        #expect(found["beating_client_ready"] as? Bool == true)
        #expect(found["silent_client_closed_with"] as? Int == Int(GatewayCloseCode.sessionTimedOut.rawValue))
        #expect(found["beating_client_acks"] as? Int == 6)
        #expect(found["beating_client_still_open"] as? Bool == true)
        let resume = try #require(found["resume_of_timed_out_session"] as? [String: Any])
        #expect(resume["op"] as? Int == 9 && resume["d"] as? Bool == false)
    }
}

@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct ResumeReplayTests {
    @Test func aResumeFromThreeBackReplaysExactlyThoseThreeThenResumed() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 6, userCount: 100, seed: 10), dispatchesPerSecond: 0))
        let output = try await DiscordPy.runScript("replay.py", [server.gatewayURL + "/", server.configuration.token])
        struct Result: Decodable {
            let first: [[JSONValue]]
            let replayed: [[JSONValue]]
        }
        let result = try JSONDecoder().decode(Result.self, from: output)
        try await server.stop()
        // READY then one GUILD_CREATE per guild, numbered 1…7.
        #expect(result.first.map { $0[0] } == (1...7).map { .number($0) })
        #expect(result.replayed.map { $0[0] } == [.number(5), .number(6), .number(7), .number(8)])
        #expect(result.replayed.map { $0[1] } == [.text("GUILD_CREATE"), .text("GUILD_CREATE"), .text("GUILD_CREATE"), .text("RESUMED")])
        #expect(server.record.connections.last?.replayed == 3)
    }

    /// What a REST call caused while the session had no connection was missed: the resume
    /// replays it before RESUMED, after which every dispatch is new.
    @Test func whatRESTCausedWhileAwayIsReplayedBeforeResumed() async throws {
        let world = TrafficWorld(guildCount: 6, userCount: 100, seed: 10)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 0))
        async let output = DiscordPy.runScript("replay.py", [server.gatewayURL + "/", server.configuration.token, "2"])
        let deadline = ContinuousClock.now + .seconds(30)
        while server.record.connections.first?.clientCloseCode == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let created = try await client.send("POST", "/guilds/\(world.guilds[0].id)/channels", json: ["name": "while-away", "type": 0])
        #expect(created.status == 201)
        struct Result: Decodable {
            let replayed: [[JSONValue]]
        }
        let result = try JSONDecoder().decode(Result.self, from: try await output)
        try await server.stop()
        #expect(result.replayed.map { $0[1] } == [.text("GUILD_CREATE"), .text("GUILD_CREATE"), .text("GUILD_CREATE"), .text("CHANNEL_CREATE"), .text("RESUMED")])
        #expect(result.replayed.map { $0[0] } == (5...9).map { .number($0) })
    }

    /// A resume from a `seq` the session never reached is refused with 4007 (Invalid seq, as on
    /// Discord: the client starts a new session), not with op 9, and replays nothing; the session
    /// is over — a resume from where it was then gets op 9 `false`.
    @Test func aResumeFromASequenceAheadOfTheSessionIsClosedWith4007() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 6, userCount: 100, seed: 10), dispatchesPerSecond: 0))
        let output = try await DiscordPy.runScript("replay.py", [server.gatewayURL + "/", server.configuration.token, "0", "-5"])
        struct Result: Decodable {
            let replayed: [[JSONValue]]
            let invalid_session: Bool?
            let close_code: Int?
            let retried: [String: Bool]?
        }
        let result = try JSONDecoder().decode(Result.self, from: output)
        try await server.stop()
        #expect(result.close_code == 4007)
        #expect(result.retried == ["invalid_session": false], "\(String(describing: result.retried))")
        #expect(result.invalid_session == nil)
        #expect(result.replayed.isEmpty)
        let refused = server.record.connections.filter { $0.closeCode == 4007 }
        #expect(refused.count == 1 && refused.first?.resumed == false)
    }

    /// A session left without a connection past its resume window cannot be resumed: op 9
    /// `false`, and nothing replayed. (Within the window, the test above resumes.)
    @Test func aResumeAfterTheWindowGetsAnInvalidSession() async throws {
        var configuration = SimulatorConfiguration(world: TrafficWorld(guildCount: 6, userCount: 100, seed: 10), dispatchesPerSecond: 0)
        configuration.resumeWindowMilliseconds = 300
        let server = try await SimulatorServer.start(configuration)
        let output = try await DiscordPy.runScript("replay.py", [server.gatewayURL + "/", server.configuration.token, "1.5"])
        struct Result: Decodable {
            let first: [[JSONValue]]
            let replayed: [[JSONValue]]
            let invalid_session: Bool?
        }
        let result = try JSONDecoder().decode(Result.self, from: output)
        // Let go during the wait, with no new session arriving to prompt it (the resume made none).
        #expect(server.sessionsHeld == 0)
        try await server.stop()
        #expect(result.first.count == 7)
        #expect(result.invalid_session == false)
        #expect(result.replayed.isEmpty)
        #expect(server.record.connections.last?.invalidSessionsSent == 1)
        #expect(server.record.connections.last?.resumed == false)
    }
}

/// A JSON scalar from a script's output.
enum JSONValue: Decodable, Equatable {
    case number(Int)
    case text(String)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) { self = .number(number) } else { self = .text(try container.decode(String.self)) }
    }
}
