import ArgumentParser
import DiscordGateway
import DiscordModels
import Foundation

/// `kamii bench-capture`: replays a capture through the first steps of the hot path — inflate,
/// then read the envelope — and reports throughput on one core.
struct BenchCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-capture",
        abstract: "Measure inflate + envelope throughput on a recorded gateway session.",
        discussion: """
            Loads the capture into memory and replays it --passes times, each pass on a fresh \
            stream. Reports the median and best pass. Build with `-c release` for meaningful figures.
            """
    )

    @Argument(help: "The capture file.")
    var file: String

    @Option(help: "The connection's transport compression.")
    var compress: GatewayCompression

    @Option(help: "How many times to replay the capture.")
    var passes = 5

    func validate() throws {
        guard passes > 0 else { throw ValidationError("--passes must be positive") }
    }

    func run() throws {
        let replay = try CaptureReplay(file: file, compression: compress)
        let inflater = compress.makeInflater()
        let clock = ContinuousClock()
        var durations: [Duration] = []
        var payloads = 0
        var payloadBytes = 0
        for _ in 0..<passes {
            payloads = 0
            payloadBytes = 0
            let started = clock.now
            try replay.replay(on: inflater) { _, payload, _ in
                payloads += 1
                payloadBytes += payload.count
            }
            durations.append(clock.now - started)
        }
        guard payloads > 0 else { throw InspectError("the capture holds no payloads") }
        let sorted = durations.sorted()
        for (label, duration) in [("median", sorted[sorted.count / 2]), ("best", sorted[0])] {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            let line = String(
                format: "%@: %d payloads in %.1f ms: %.0f ns/payload, %.0f payloads/s, %.0f MB/s (payload bytes)",
                label, payloads, seconds * 1e3, seconds * 1e9 / Double(payloads), Double(payloads) / seconds,
                Double(payloadBytes) / seconds / 1e6)
            print(line)
        }
    }
}
