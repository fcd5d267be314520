import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiTestSupport
import NIOPosix
import Testing

/// `kamii run` as an operator runs it: configured by a file and the environment, against the
/// simulator, stopped with SIGTERM, restarted into the saved sessions.
struct RunCommandTests {
    /// A `kamii` process whose standard error is collected as it runs.
    final class RunningKamii: Sendable {
        let process: Process
        private let output = Locked("")

        init(_ arguments: [String], environment: [String: String]) throws {
            let process = Process()
            process.executableURL = Kamii.executable
            process.arguments = arguments
            process.environment = environment
            let pipe = Pipe()
            process.standardError = pipe
            process.standardOutput = FileHandle.nullDevice
            let output = output
            // Read on Dispatch's threads, never on the cooperative pool.
            pipe.fileHandleForReading.readabilityHandler = { handle in
                let chunk = handle.availableData
                if chunk.isEmpty {
                    handle.readabilityHandler = nil
                } else {
                    output.withLock { $0 += String(decoding: chunk, as: UTF8.self) }
                }
            }
            try process.run()
            self.process = process
        }

        var log: String { output.value }

        /// Waits until `condition` holds (it is given the process's log); if it never does, kills the
        /// process (a test's failure must not leave it running) and records what it said, after
        /// `explaining`'s account of what was wrong.
        func waitFor(
            _ what: String, timeout: Duration = .seconds(60), _ condition: (String) async throws -> Bool,
            explaining: () async throws -> String = { "" }
        ) async throws {
            do {
                try await waitUntil(what, timeout: timeout) { try await condition(self.log) }
            } catch {
                _ = await stop(signal: SIGKILL)
                let account: String
                do { account = try await explaining() } catch { account = "(could not say what was wrong: \(error))" }
                Issue.record("\(error)\(account.isEmpty ? "" : ": " + account); kamii run said: \(log)")
                throw error
            }
        }

        /// Sends `signal` and waits for the exit; past `killAfter`, SIGKILL (a hang fails its test
        /// with status 9 instead of holding up the suite).
        func stop(signal: Int32 = SIGTERM, killAfter: Duration = .seconds(120)) async -> Int32 {
            kill(process.processIdentifier, signal)
            let process = process
            let (seconds, _) = killAfter.components
            let killer = DispatchWorkItem { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(seconds)), execute: killer)
            let status = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    process.waitUntilExit()
                    continuation.resume(returning: process.terminationStatus)
                }
            }
            killer.cancel()
            return status
        }
    }

    static func environment(_ server: SimulatorServer, redis: String? = nil) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_TOKEN"] = server.configuration.token
        environment["KAMII_API_URL"] = server.apiBaseURL
        environment["KAMII_STATS_INTERVAL_SECONDS"] = "1"
        environment["KAMII_IDENTIFY_WINDOW_MS"] = String(server.configuration.identifyWindowMilliseconds)
        environment["KAMII_REDIS_URL"] = redis
        return environment
    }

    @Test(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
    func runsShardsStopsResumablyAndResumesAfterARestart() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 20, userCount: 300, seed: 95), dispatchesPerSecond: 100, identifyWindowMilliseconds: 300))
        let redis = try #require(RedisTestServer.configuration)
        let config = try TemporaryFile(Data(#"{"shards": 2, "compression": "zlib-stream", "intents": "guilds,guild_members,guild_messages"}"#.utf8))
        // One bot per test run in Redis: the simulator's token, a namespace of its own.
        var environment = Self.environment(server, redis: "redis://\(redis.host):\(redis.port)")
        environment["KAMII_CONFIG"] = config.path
        environment["KAMII_NAMESPACE"] = "test-\(UInt64.random(in: 0...UInt64.max))"

        let first = try RunningKamii(["run"], environment: environment)
        try await first.waitFor("both shards ready and counting messages") { $0.contains("shards_ready=2/2") && $0.contains("MESSAGE_CREATE=") }
        #expect(await first.stop() == 0, "\(first.log)")
        #expect(first.log.contains("stopped"))
        #expect(!first.log.contains(server.configuration.token), "the token is never logged")
        let connections = server.record.connections
        #expect(connections.count == 2 && connections.allSatisfy { $0.compression == "zlib-stream" && $0.intents == 1 + 2 + 512 })
        try await waitUntil("both close frames") { server.record.connections.allSatisfy { $0.clientCloseCode != nil } }
        #expect(server.record.connections.allSatisfy { $0.clientCloseCode == 4000 }, "closed resumably")

        let second = try RunningKamii(["run"], environment: environment)
        try await second.waitFor("both shards resumed") { $0.contains("shards_ready=2/2") }
        #expect(await second.stop(signal: SIGINT) == 0)
        #expect(second.log.contains("resuming 2 saved sessions"))
        #expect(!second.log.contains("READY="), "no shard identified again")
        #expect(server.record.connections.suffix(2).allSatisfy { $0.resumed })
        try await server.stop()
    }

    @Test func aShardThatCannotWorkEndsTheProcessWithItsReason() async throws {
        // Privileged intents the application lacks: Discord closes with 4014, a fatal code.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            approvedPrivilegedIntents: [], world: TrafficWorld(guildCount: 2, userCount: 20, seed: 96), dispatchesPerSecond: 0))
        var environment = Self.environment(server)
        environment["KAMII_INTENTS"] = "guilds,guild_members"
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status == 1)
        #expect(result.stderr.contains("shard 0 stopped: closed by Discord with 4014"), "\(result.stderr)")
        #expect(server.record.connections.count == 1, "no retry")
        try await server.stop()
    }

    @Test func aRefusedTokenIsSaidPlainly() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 2, userCount: 20, seed: 97), dispatchesPerSecond: 0))
        var environment = Self.environment(server)
        environment["KAMII_TOKEN"] = "not.the.token"
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains("GET /gateway/bot") && result.stderr.contains("401") && result.stderr.contains("KAMII_TOKEN"), "\(result.stderr)")
        #expect(!result.stderr.contains("not.the.token"), "the token is never printed")
        #expect(server.record.connections.isEmpty, "no shard connected")
        try await server.stop()
    }

    @Test(arguments: [
        ([:], "no bot token"),
        (["KAMII_SHARDS": "many"], "shards is \"auto\" or a positive number"),
        (["KAMII_SHARD_RANGE": "0-3", "KAMII_CLUSTER": "0/2"], "not both"),
        (["KAMII_CLUSTER": "0/2"], "set redis_url"),
        (["KAMII_GATEWAY_URL": "wss://gateway.discord.gg", "KAMII_IDENTIFY_WINDOW_MS": "1000"], "identify_window_ms below 5000"),
        (["KAMII_NAMESPACE": "a}b"], "namespace must be"),
        (["KAMII_COMPRESSION": "gzip"], "compression is zstd-stream, zlib-stream or none"),
        (["KAMII_INTENTS": "guilds,everything"], "intents"),
        (["KAMII_REDIS_URL": "http://cache"], "redis_url"),
        (["KAMII_API_URL": "discord.com"], "api_url"),
        (["KAMII_API_URL": "http://discord.com/api/v10"], "api_url must use https with Discord"),
        (["KAMII_API_URL": "https://DISCORD.COM/api/v10", "KAMII_IDENTIFY_WINDOW_MS": "1000"], "identify_window_ms below 5000"),
        (["KAMII_GATEWAY_URL": "ws://"], "gateway_url must be a ws:// or wss:// URL with a host"),
        (["KAMII_GATEWAY_URL": "wss://gateway.discord.gg:44x"], "gateway_url must be a ws:// or wss:// URL with a host"),
        (["KAMII_GATEWAY_URL": "wss://proxy.example/discord-gw"], "gateway_url names a host and port only"),
        (["KAMII_GATEWAY_URL": "ws://gateway.discord.gg"], "gateway_url must use wss with Discord"),
        (["KAMII_INTENTS": "0"], "asks for no events"),
        (["KAMII_REDIS": "redis://cache", "KAMII_CLUSTER": "0/2"], "KAMII_REDIS is not a setting; did you mean KAMII_REDIS_URL?"),
        (["KAMII_KARMA_MEMORY_DAYS": "0"], "karma_memory_days must be between 1 and 3650"),
    ])
    func badSettingsAreRefusedClearly(_ settings: [String: String], _ message: String) async throws {
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        if !settings.isEmpty { environment["KAMII_TOKEN"] = "a.b.c" }
        environment.merge(settings) { $1 }
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test func aSyntaxErrorInTheFileSaysWhere() async throws {
        // A comma missing after the first setting.
        let config = try TemporaryFile(Data("{\n  \"token\": \"a.b.c\"\n  \"shards\": 1\n}\n".utf8))
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_CONFIG"] = config.path
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains("is not a JSON object of settings") && result.stderr.contains("around line 3, column 3"), "\(result.stderr)")
    }

    @Test func anUnknownSettingInTheFileIsNamed() async throws {
        let config = try TemporaryFile(Data(#"{"token": "a.b.c", "shard_count": 4}"#.utf8))
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_CONFIG"] = config.path
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.contains("unknown setting shard_count"), "\(result.stderr)")
    }

    @Test(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
    func aSecondSignalStopsAShutdownWaitingForRedis() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 10, userCount: 200, seed: 98), dispatchesPerSecond: 200, identifyWindowMilliseconds: 300))
        let redis = try RedisProcess()
        var environment = Self.environment(server, redis: "redis://127.0.0.1:\(redis.port)")
        environment["KAMII_SHARDS"] = "1"
        let kamii = try RunningKamii(["run"], environment: environment)
        try await kamii.waitFor("the shard ready and counting messages") { $0.contains("shards_ready=1/1") && $0.contains("MESSAGE_CREATE=") }
        // Redis gone, with changes waiting for it (a flush has failed since): the graceful shutdown
        // waits for it (30 s for the flush, then the rest).
        redis.stop()
        try await kamii.waitFor("a flush failing for want of Redis") { $0.contains("stats flush failed") }
        kill(kamii.process.processIdentifier, SIGTERM)
        try await kamii.waitFor("the shutdown begun") { $0.contains("SIGTERM: shutting down") }
        // One signal delivered twice (a Ctrl-C from the terminal, and again from a wrapper such as
        // `timeout --foreground`): the repeat, within a second, does not cut the shutdown short.
        kill(kamii.process.processIdentifier, SIGTERM)
        try await kamii.waitFor("the repeat taken for the first") { $0.contains("SIGTERM again within") && $0.contains("taken for the same one") }
        #expect(kamii.process.isRunning && !kamii.log.contains("stopping at once"))
        // Past that second, well before the flush's own 30 s: the second signal ends the wait
        // (killed, the status is 9).
        try await Task.sleep(for: .milliseconds(1_200))
        #expect(await kamii.stop(signal: SIGINT, killAfter: .seconds(20)) == 1, "\(kamii.log)")
        #expect(kamii.log.contains("SIGINT again: stopping at once"))
        #expect(kamii.log.contains("stopped at once"))
        try await server.stop()
    }

    @Test func aMetricsPortInUseFailsBeforeAnyShardConnects() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 2, userCount: 20, seed: 99), dispatchesPerSecond: 0))
        let taken = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        var environment = Self.environment(server)
        environment["KAMII_METRICS_PORT"] = String(try #require(taken.localAddress?.port))
        let result = try await Kamii.run(["run"], environment: environment)
        #expect(result.status != 0)
        #expect(result.stderr.lowercased().contains("address already in use"), "\(result.stderr)")
        #expect(server.record.connections.isEmpty, "no shard connected")
        try await taken.close()
        try await server.stop()
    }

    /// A log level kamii run does not know stops the start, said; a `KAMII_*` variable that looks
    /// like a setting but is not one is named with the setting it is likely meant to be.
    @Test func aBadLogLevelStopsTheStartAndAMisspeltVariableIsNamed() async throws {
        var refusedEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        refusedEnvironment["KAMII_TOKEN"] = "a.b.c"
        refusedEnvironment["KAMII_LOG_LEVEL"] = "verbose"
        let refused = try await Kamii.run(["run"], environment: refusedEnvironment)
        #expect(refused.status != 0 && refused.stderr.contains("KAMII_LOG_LEVEL must be one of"), "\(refused.stderr)")

        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 2, userCount: 20, seed: 97), dispatchesPerSecond: 0))
        var environment = Self.environment(server)
        environment["KAMII_REDIS"] = "redis://127.0.0.1:6379"
        environment["KAMII_LOG_LEVEL"] = "Notice"
        let kamii = try RunningKamii(["run"], environment: environment)
        try await kamii.waitFor("the misspelt variable named") { $0.contains("KAMII_REDIS is not a setting kamii run reads (ignored); did you mean KAMII_REDIS_URL?") }
        // Its signals are trapped once its services run: a shard has connected by then.
        try await waitUntil("a shard connected") { !server.record.connections.isEmpty }
        #expect(!kamii.log.contains(" info "), "the level read in any case: notice and above only")
        #expect(await kamii.stop() == 0, "\(kamii.log)")
        try await server.stop()
    }
}
