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
        let member_joins: Int
        let reactions: Int
        let resumes: Int
    }

    @Test(arguments: ["zstd-stream", "zlib-stream"])
    func discordPyLogsInAndReceivesExactlyWhatWasSent(_ compression: String) async throws {
        let world = TrafficWorld(guildCount: 25, userCount: 3_000, seed: 42)
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: world, dispatchesPerSecond: 500, maxDispatchesPerSession: 1_500))
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
        #expect(connection.dispatches["GUILD_CREATE"] == 25)
        // discord.py asked for every guild's members (op 8) and got them.
        #expect((connection.dispatches["GUILD_MEMBERS_CHUNK"] ?? 0) >= 25)
        let messages = connection.dispatches["MESSAGE_CREATE"] ?? 0
        #expect(messages > 1_000)
        #expect(report.messages == messages)
        #expect(report.messages_in_known_guild_channels == messages)
        #expect(report.messages_with_member_author == messages)
        #expect(report.member_joins == connection.dispatches["GUILD_MEMBER_ADD"] ?? 0)
        #expect(report.reactions == connection.dispatches["MESSAGE_REACTION_ADD"] ?? 0)
        // discord.py did not ask for presences (privileged), so none were sent.
        #expect(connection.dispatches["PRESENCE_UPDATE"] == nil)
        #expect(server.record.restCalls.contains("GET /api/v10/users/@me"))
        #expect(report.resumes == 0)
        try await server.stop()
    }

    @Test(arguments: ["zstd-stream", "zlib-stream"])
    func discordPyResumesAfterOpSevenWithoutLosingOrRepeatingADispatch(_ compression: String) async throws {
        let world = TrafficWorld(guildCount: 10, userCount: 1_000, seed: 43)
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: world, dispatchesPerSecond: 400, maxDispatchesPerSession: 2_500))
        async let running = DiscordPy.run(
            [server.apiBaseURL, server.gatewayURL + "/", server.configuration.token] + (compression == "zlib-stream" ? ["--zlib"] : []))

        // Mid-stream, Discord asks the client to reconnect.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while (server.record.connections.first?.lastSequence ?? 0) < 800, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(server.sendReconnect() == 1)
        let report = try await running

        let connections = server.record.connections
        try #require(connections.count == 2)
        let sessionID = try #require(connections[0].sessionID)
        #expect(connections[0].reconnectsSent == 1)
        #expect(connections[1].resumed && connections[1].sessionID == sessionID)
        #expect(connections[0].clientCloseCode != 1000 && connections[0].clientCloseCode != 1001)
        #expect(report.resumes == 1)
        let sent = server.record.dispatches(inSession: sessionID)
        #expect(sent["READY"] == 1 && sent["RESUMED"] == 1)
        #expect(report.messages == sent["MESSAGE_CREATE"] ?? 0)
        #expect(report.reactions == sent["MESSAGE_REACTION_ADD"] ?? 0)
        #expect(report.member_joins == sent["GUILD_MEMBER_ADD"] ?? 0)
        try await server.stop()
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
        // Both pipes are drained at once, so neither can fill and stall the script.
        async let errorText = Task.detached { String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }.value
        async let outputData = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }.value
        // A script that hangs is killed rather than hanging the suite.
        let watchdog = Task.detached {
            try await Task.sleep(for: .seconds(150))
            process.terminate()
        }
        let (stdout, stderr) = await (outputData, errorText)
        await Task.detached { process.waitUntilExit() }.value
        watchdog.cancel()
        try #require(process.terminationStatus == 0, "\(name) failed:\n\(stderr)")
        return stdout
    }
}
