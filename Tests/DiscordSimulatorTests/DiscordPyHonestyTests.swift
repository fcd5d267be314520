import DiscordGateway
import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// The simulator is honest only if an independent client accepts it: discord.py, from PyPI, logs in
/// through REST, connects to the gateway with each compression, and must see exactly what the
/// simulator says it sent. Needs the venv `ops/test` makes (`KAMII_PYTHON`).
@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with discord.py (ops/test does)"))
struct DiscordPyHonestyTests {
    struct Report: Decodable {
        let compression: String
        let ready: Bool
        let user_id: String?
        let guilds: Int
        let guild_ids: [String]
        let messages: Int
        let messages_in_known_guild_channels: Int
        let messages_with_member_author: Int
        let messages_by_webhook: Int
        let messages_in_threads: Int
        let threads_created: Int
        let threads_archived: Int
        let threads_unarchived: Int
        let threads_deleted: Int
        let member_joins: Int
        let pending_joins: Int
        let joins_pending_as_features_say: Int
        let member_updates: Int
        let role_changes: Int
        let screening_passes: Int
        let reactions: Int
        let resumes: Int
        let readies: Int
        let messages_by_author: [String: Int]
        let content_mentions: Int
        let bot_mentions: Int
    }

    /// The joins that happened: Discord may send GUILD_MEMBER_ADD again for a member who never left,
    /// which discord.py discards ("an already cached member") — as a bot must not count it.
    static func joins(_ truth: GroundTruth) -> Int {
        truth.all.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.joins } }
    }

    /// The simulator's ground truth in the report's shape: "guild/author" → messages.
    static func messagesByAuthor(_ truth: GroundTruth) -> [String: Int] {
        var result: [String: Int] = [:]
        for (guild, members) in truth.all {
            for (user, member) in members where member.messages + member.notOwnMessages > 0 {
                result["\(guild)/\(user)"] = member.messages + member.notOwnMessages
            }
        }
        return result
    }

    /// Both compressions, each as Discord compresses and as a load run does (ISA-L writes the
    /// zlib stream there): discord.py must read all four.
    @Test(arguments: ["zstd-stream", "zlib-stream"], ["discord", "fast"])
    func discordPyLogsInAndReceivesExactlyWhatWasSent(_ compression: String, _ settings: String) async throws {
        let world = TrafficWorld(guildCount: 25, userCount: 3_000, seed: 42)
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 500, maxDispatchesPerSession: 1_500)
        configuration.compression = try #require(DeflaterSettings(named: settings))
        let server = try await SimulatorServer.start(configuration)
        let report = try await DiscordPy.run(
            [server.apiBaseURL, server.gatewayURL + "/", server.configuration.token] + (compression == "zlib-stream" ? ["--zlib"] : []))
        #expect(report.compression == compression)
        #expect(report.ready)
        #expect(report.user_id == server.configuration.botUserID.description)
        #expect(report.guilds == 25)
        #expect(report.guild_ids == world.guilds.map(\.id.description).sorted())

        let connection = try #require(server.record.connections.first { $0.sessionID != nil })
        #expect(connection.compression == compression)
        #expect(connection.dispatches["READY"] == 1)
        // zlib-stream payloads sent across two messages (discord.py buffers to `00 00 ff ff`); never zstd's.
        #expect(compression == "zlib-stream" ? connection.splitMessages > 10 : connection.splitMessages == 0, "\(connection.splitMessages)")
        #expect(connection.dispatches["GUILD_CREATE"] == 25)
        // discord.py asked for every guild's members (op 8) and got them.
        #expect((connection.dispatches["GUILD_MEMBERS_CHUNK"] ?? 0) >= 25)
        let messages = connection.dispatches["MESSAGE_CREATE"] ?? 0
        #expect(messages > 1_000)
        #expect(report.messages == messages)
        #expect(report.messages_in_known_guild_channels == messages)
        // A message whose content mentions the bot lists it in `mentions`, as Discord's do.
        #expect(report.content_mentions > 0 && report.bot_mentions == report.content_mentions, "\(report.bot_mentions) of \(report.content_mentions)")
        // Threads: discord.py took each THREAD_CREATE, archive and delete, and placed every message
        // posted in a thread in a thread it knew, in a channel it knew.
        #expect(report.threads_created == connection.dispatches["THREAD_CREATE"] ?? 0)
        #expect(report.threads_archived + report.threads_unarchived == connection.dispatches["THREAD_UPDATE"] ?? 0)
        #expect(report.threads_deleted == connection.dispatches["THREAD_DELETE"] ?? 0)
        #expect(report.threads_created > 0 && report.messages_in_threads > 0, "\(report.threads_created) threads, \(report.messages_in_threads) messages in them")
        // A webhook's post has a user for its author, not a member.
        #expect(report.messages_with_member_author + report.messages_by_webhook == messages)
        #expect(report.member_joins == Self.joins(server.groundTruth) && report.member_joins <= connection.dispatches["GUILD_MEMBER_ADD"] ?? 0)
        // Membership Screening as discord.py reads it: a newcomer is pending exactly where the
        // guild's features say it screens; every update of a member it knew gave or took one of
        // the guild's roles, or passed the member through screening.
        #expect(report.joins_pending_as_features_say == report.member_joins && report.pending_joins > 0)
        #expect(report.member_updates > 0 && report.member_updates == report.role_changes + report.screening_passes,
                "\(report.member_updates) updates: \(report.role_changes) role changes, \(report.screening_passes) passes")
        #expect(report.member_updates <= connection.dispatches["GUILD_MEMBER_UPDATE"] ?? 0)
        #expect(report.reactions == connection.dispatches["MESSAGE_REACTION_ADD"] ?? 0)
        // discord.py did not ask for presences (privileged), so none were sent.
        #expect(connection.dispatches["PRESENCE_UPDATE"] == nil)
        #expect(server.record.restCalls.contains("GET /api/v10/users/@me"))
        #expect(report.resumes == 0)
        #expect(report.messages_by_author == Self.messagesByAuthor(server.groundTruth))
        try await server.stop()
    }

    static let resumableFaults: [(SimulatorFault, String)] = [
        (.reconnect, "zstd-stream"), (.reconnect, "zlib-stream"), (.invalidSession(resumable: true), "zstd-stream"),
        (.dropConnection, "zlib-stream"), (.close(code: 4000), "zstd-stream"),
    ]

    @Test(arguments: resumableFaults)
    func discordPyResumesAfterAFaultWithoutLosingOrRepeatingADispatch(_ fault: SimulatorFault, _ compression: String) async throws {
        let (server, report) = try await Self.run(compression, injecting: fault)
        let connections = server.record.connections
        try #require(connections.count == 2, "\(connections) \(report)")
        let sessionID = try #require(connections[0].sessionID)
        #expect(connections[1].resumed && connections[1].sessionID == sessionID)
        #expect(report.resumes == 1 && report.readies == 1)
        let sent = server.record.dispatches(inSession: sessionID)
        #expect(sent["READY"] == 1 && sent["RESUMED"] == 1)
        #expect(report.messages == sent["MESSAGE_CREATE"] ?? 0)
        #expect(report.reactions == sent["MESSAGE_REACTION_ADD"] ?? 0)
        #expect(report.member_joins == Self.joins(server.groundTruth) && report.member_joins <= sent["GUILD_MEMBER_ADD"] ?? 0)
        // Replays after the resume are not counted twice by the ground truth either.
        #expect(report.messages_by_author == Self.messagesByAuthor(server.groundTruth))
        try await server.stop()
    }

    @Test func discordPyIdentifiesAgainAfterANonResumableInvalidSession() async throws {
        // discord.py waits 5 s before identifying again.
        let (server, report) = try await Self.run("zstd-stream", injecting: .invalidSession(resumable: false), quietSeconds: 8)
        let sessions = server.record.connections.compactMap(\.sessionID)
        #expect(Set(sessions).count == 2)
        #expect(server.record.connections.allSatisfy { !$0.resumed })
        #expect(report.resumes == 0 && report.readies == 2)
        let sent = Set(sessions).map { server.record.dispatches(inSession: $0)["MESSAGE_CREATE"] ?? 0 }.reduce(0, +)
        #expect(report.messages == sent)
        try await server.stop()
    }

    /// Runs discord.py against a fresh simulator and injects `fault` once 800 dispatches went out.
    static func run(_ compression: String, injecting fault: SimulatorFault, quietSeconds: Int = 2) async throws -> (SimulatorServer, Report) {
        let world = TrafficWorld(guildCount: 10, userCount: 1_000, seed: 43)
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 400, maxDispatchesPerSession: 2_500)
        // discord.py asks for every guild's members after each READY and does not handle
        // RATE_LIMITED (2.7.1): within Discord's 30 s, a second session would wait out a 5 s chunk
        // timeout per guild before on_ready. It identifies again 5 s after an op 9, past this window.
        configuration.allMembersRequestWindowMilliseconds = 1_000
        let server = try await SimulatorServer.start(configuration)
        async let running = DiscordPy.run(
            [server.apiBaseURL, server.gatewayURL + "/", server.configuration.token, "--quiet", String(quietSeconds)]
                + (compression == "zlib-stream" ? ["--zlib"] : []))
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while (server.record.connections.first?.lastSequence ?? 0) < 800, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.inject(fault) == 1)
        return (server, try await running)
    }
}

enum DiscordPy {
    static var python: String? { ProcessInfo.processInfo.environment["KAMII_PYTHON"] }
    static var isConfigured: Bool {
        python != nil || ProcessInfo.processInfo.environment["KAMII_TEST_REQUIRE_SERVICES"] == "1"
    }

    static let clients = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Clients")

    /// Runs the discord.py client script and decodes the one JSON line it prints.
    static func run(_ arguments: [String]) async throws -> DiscordPyHonestyTests.Report {
        try JSONDecoder().decode(DiscordPyHonestyTests.Report.self, from: try await runScript("discordpy_client.py", arguments))
    }

    private static func readToEnd(_ pipe: Pipe) async -> Data {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile()) }
        }
    }

    /// Runs a script from `Clients/` with the venv's Python and returns its standard output.
    static func runScript(_ name: String, _ arguments: [String]) async throws -> Data {
        let python = try #require(python, "KAMII_PYTHON is not set")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [clients.appendingPathComponent(name).path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Blocking reads run on Dispatch's threads, never on the cooperative pool: tests running in
        // parallel (and the simulator's own polling) must not starve while a script runs.
        async let errorData = Self.readToEnd(errors)
        async let outputData = Self.readToEnd(output)
        let watchdog = Task.detached {
            try await Task.sleep(for: .seconds(150))
            process.terminate()
        }
        let (stdout, errorBytes) = await (outputData, errorData)
        let stderr = String(decoding: errorBytes, as: UTF8.self)
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        watchdog.cancel()
        try #require(process.terminationStatus == 0, "\(name) failed:\n\(stderr)")
        return stdout
    }
}
