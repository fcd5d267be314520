import ArgumentParser
import DiscordGateway
import DiscordSimulator
import Foundation

/// `kamii simulate`: the Discord stand-in's commands; by default, serve it.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Discord simulator, or write a simulated session to a capture.",
        subcommands: [SimulateServe.self, SimulateCapture.self],
        defaultSubcommand: SimulateServe.self
    )
}

/// `kamii simulate [serve]`: a simulated Discord on loopback until Ctrl-C.
struct SimulateServe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a simulated Discord (REST and gateway) on 127.0.0.1.",
        discussion: "Prints the API base URL, the gateway URL and the bot token it accepts, then a running count of what it sent.")

    @Option(help: "The REST port; the gateway listens on the next one and READY's resume URL on the one after (unless --gateway-port or --resume-port says otherwise).") var port: Int?
    @Option(help: "The REST port (0: any free port).") var restPort = 0
    @Option(help: "The gateway port (0: any free port).") var gatewayPort = 0
    @Option(help: "The port of READY's resume_gateway_url (0: any free port).") var resumePort = 0
    @Option(help: "The shard count /gateway/bot recommends (default: one per 1,000 guilds).") var shards: Int?
    @Option(help: "session_start_limit.max_concurrency: identify buckets.") var maxConcurrency = 1
    @Option(help: "REST requests per second across all routes (Discord: 50).") var globalLimit = 50
    @Option(help: "The identify window per bucket in milliseconds (Discord: 5,000).") var identifyWindowMs = 5_000
    @Option(help: "session_start_limit.total: identifies per day before the token is reset (Discord: 1,000).") var sessionStartLimit = 1_000
    @Option(help: "How long a session without a connection can still be resumed, in milliseconds.") var resumeWindowMs = 120_000
    @Option(help: "How many guilds the world has.") var guilds = 100
    @Option(help: "How many users the world has.") var users = 20_000
    @Option(help: "Live events per second per session (those its intents do not cover are not sent).") var rate = 100
    @Option(help: "Live dispatches a session gets at most (default: no limit).") var maxDispatches: Int?
    @Option(help: "The seed of the world and its traffic.") var seed: UInt64 = 1
    @Option(help: "Live events each session draws and renders as it starts, before sending any (about 1 KB each, per session; at most 2,000,000): a load run's head start, so that sending them costs little more than compression and the write. REST changes reach the traffic drawn after them.")
    var prerender = 0
    @Option(help: "How streams are compressed: discord (zlib level 6, zstd level 3) or fast (ISA-L level 0, zstd level -3: about 3x the dispatches per core on zlib-stream and 1.2x on zstd-stream, larger messages).")
    var compression: DeflaterSettings = .discord

    func validate() throws {
        try SimulatedWorldSize.validate(guilds: guilds, users: users)
        guard shards.map({ $0 > 0 }) ?? true, maxConcurrency > 0, globalLimit > 0 else {
            throw ValidationError("--shards, --max-concurrency and --global-limit must be positive")
        }
        guard identifyWindowMs > 0, sessionStartLimit > 0, resumeWindowMs > 0 else {
            throw ValidationError("--identify-window-ms, --session-start-limit and --resume-window-ms must be positive")
        }
        if let port, !(1...65_533).contains(port) {
            throw ValidationError("--port must be 1 to 65533: the gateway and the resume URL take the next two")
        }
        for (name, value) in [("--rest-port", restPort), ("--gateway-port", gatewayPort), ("--resume-port", resumePort)] where !(0...65_535).contains(value) {
            throw ValidationError("\(name) must be 0 (any free port) to 65535, not \(value)")
        }
        guard (0...2_000_000).contains(prerender) else { throw ValidationError("--prerender must be 0 to 2,000,000") }
    }

    func run() async throws {
        let world = TrafficWorld(guildCount: guilds, userCount: users, seed: seed)
        var configuration = SimulatorConfiguration(
            world: world, trafficSeed: seed &+ 1, dispatchesPerSecond: rate, maxDispatchesPerSession: maxDispatches,
            maxConcurrency: maxConcurrency, identifyWindowMilliseconds: identifyWindowMs, sessionStartLimit: sessionStartLimit)
        configuration.recommendedShards = shards
        configuration.compression = compression
        configuration.resumeWindowMilliseconds = resumeWindowMs
        configuration.prerenderedDispatches = prerender
        configuration.restLimits.globalPerSecond = globalLimit
        let server = try await SimulatorServer.start(
            configuration, restPort: port ?? restPort, gatewayPort: port.map { $0 + 1 } ?? gatewayPort, resumePort: port.map { $0 + 2 } ?? resumePort)
        print("api: \(server.apiBaseURL)")
        print("gateway: \(server.gatewayURL)")
        print("token: \(server.configuration.token)")
        // Whoever reads these lines may be another program waiting on a pipe.
        fflush(nil)
        while !Task.isCancelled {
            try await Task.sleep(for: .seconds(1))
            let connections = server.record.connections
            let sent = connections.reduce(0) { $0 + $1.lastSequence }
            let rest = server.record.rest
            print("connections=\(connections.count) sessions=\(connections.filter { $0.sessionID != nil }.count) dispatches=\(sent) rest=\(rest.count) rest_429=\(rest.filter { $0.status == 429 }.count)")
            fflush(nil)
        }
    }
}

/// `kamii simulate capture`: writes a simulated gateway session — Discord-shaped dispatches,
/// compressed as Discord would — to a capture file.
struct SimulateCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capture",
        abstract: "Write a simulated gateway session to a capture file.",
        discussion: """
            The session is seeded: the same options give the same bytes. Read it back with \
            `kamii inspect-capture`, measure it with `kamii bench-capture`.
            """
    )

    @Argument(help: "The capture file to write.")
    var file: String

    @Option(help: "Transport compression: \(GatewayCompression.allCases.map(\.rawValue).joined(separator: ", ")).")
    var compress: GatewayCompression = .zlibStream

    @Option(help: "How many dispatches to write.")
    var payloads = 10_000

    @Option(help: "How many guilds the simulated world has.")
    var guilds = 1_000

    @Option(help: "How many users the simulated world has.")
    var users = 20_000

    @Option(help: "The seed of the world and its traffic.")
    var seed: UInt64 = 1

    @Option(help: "How the stream is compressed: discord (zlib level 6, zstd level 3) or fast (ISA-L level 0, zstd level -3).")
    var compression: DeflaterSettings = .discord

    @Option(help: """
        The same world's traffic, this many days later: the same seed draws the same guilds and authors, \
        with later message IDs. Prime a Redis with stream 0's capture and measure stream 1's \
        (`bench-capture --redis-primed-by`) to count Redis's cost for members it already holds.
        """)
    var stream: UInt64 = 0

    func validate() throws {
        guard payloads > 0 else { throw ValidationError("--payloads must be positive") }
        // A message ID's worker and process bits carry the stream.
        guard stream < TrafficGenerator.distinctStreams else { throw ValidationError("--stream must be below \(TrafficGenerator.distinctStreams)") }
        try SimulatedWorldSize.validate(guilds: guilds, users: users)
    }

    func run() throws {
        let world = TrafficWorld(guildCount: guilds, userCount: users, seed: seed)
        var traffic = TrafficGenerator(world: world, seed: seed &+ 1, stream: stream)
        let deflater = compress.makeDeflater(compression)
        // Written as it is made: a capture of millions of dispatches would not fit in memory.
        let output = try CaptureFileWriter(path: file)
        var payloadBytes = 0
        do {
            for _ in 0..<payloads {
                let payload = traffic.nextPayload()
                payloadBytes += payload.count
                try output.append(deflater.deflate(payload))
            }
            try output.finish()
        } catch {
            output.abandon()
            throw error
        }
        let summary = "wrote \(file): \(payloads) dispatches, \(payloadBytes) payload bytes, \(output.byteCount) capture bytes, compression=\(compress)\n"
        // A capture sent to a stream keeps that stream to itself.
        try (output.writesInPlace ? FileHandle.standardError : FileHandle.standardOutput).write(contentsOf: Data(summary.utf8))
    }
}

/// How large a simulated world may be: it lives in memory (about 370 bytes a user), built before
/// anything is sent or written — a typo of three zeros must be refused, not allocate tens of GiB.
enum SimulatedWorldSize {
    static let maxGuilds = 1_000_000
    static let maxUsers = 5_000_000

    static func validate(guilds: Int, users: Int) throws {
        guard (1...maxGuilds).contains(guilds), (1...maxUsers).contains(users) else {
            throw ValidationError("--guilds must be 1 to \(maxGuilds) and --users 1 to \(maxUsers) (the world is held in memory)")
        }
    }
}
