import ArgumentParser
import DiscordGateway
import DiscordSimulator
import Foundation

/// `kamii simulate`: the Discord stand-in's commands.
struct Simulate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run parts of the Discord simulator.",
        subcommands: [SimulateCapture.self]
    )
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

    func validate() throws {
        guard payloads > 0, guilds > 0, users > 0 else {
            throw ValidationError("--payloads, --guilds and --users must be positive")
        }
    }

    func run() throws {
        let world = TrafficWorld(guildCount: guilds, userCount: users, seed: seed)
        var traffic = TrafficGenerator(world: world, seed: seed &+ 1)
        let deflater = compress.makeDeflater()
        var capture: [UInt8] = []
        var payloadBytes = 0
        for _ in 0..<payloads {
            let payload = traffic.nextPayload()
            payloadBytes += payload.count
            GatewayCapture.append(deflater.deflate(payload), to: &capture)
        }
        do {
            try Data(capture).write(to: URL(fileURLWithPath: file))
        } catch {
            throw InspectError("cannot write \(file): \(error.localizedDescription)")
        }
        print("wrote \(file): \(payloads) dispatches, \(payloadBytes) payload bytes, \(capture.count) capture bytes, compression=\(compress)")
    }
}
