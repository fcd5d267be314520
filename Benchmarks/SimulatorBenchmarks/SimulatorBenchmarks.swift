import Benchmark
import BenchmarkSupport
import DiscordGateway
import DiscordSimulator
import NIOCore
import Synchronization

/// How fast the simulator can produce what a session sends: draw an event, render its JSON,
/// number it, compress it on the connection's stream; then the whole serving path on the
/// simulator's own CPU. The baseline in the same run is the same kind of payloads compressed
/// alone (pre-rendered), which bounds what any faster rendering could reach. Each as Discord
/// compresses and as a load run does (`DeflaterSettings.fast`).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, SimulatorMetrics.dispatchesPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 20
    )
    let world = TrafficWorld(guildCount: 5_000, userCount: 60_000, seed: 0x4B41_4D49)
    let count = 50_000

    // Compressed as Discord does (zlib 6, zstd 3), then as a load run does.
    let variants: [(GatewayCompression, DeflaterSettings, label: String)] = [
        (.zstdStream, .discord, ""), (.zlibStream, .discord, ""), (.zstdStream, .fast, " fast"), (.zlibStream, .fast, " fast"),
    ]
    for (compression, settings, label) in variants {
        Benchmark("session traffic, \(compression)\(label), render + compress") { benchmark in
            var traffic = TrafficGenerator(world: world, seed: UInt64(benchmark.currentIteration))
            let deflater = compression.makeDeflater(settings)
            let started = ContinuousClock.now
            var bytes = 0
            for sequence in 1...count {
                let event = traffic.nextEvent()
                bytes += deflater.deflate(TrafficGenerator.payload(name: event.name, data: event.data, sequence: sequence)).count
            }
            blackHole(bytes)
            SimulatorMetrics.record(benchmark, count, since: started)
        }
    }

    // The whole serving path, measured on the simulator's own CPU: `kamii simulate` in its own
    // process serves a session (draw, render, number, keep for replay, compress, write through
    // NIO) to a client here that only counts messages. Dispatches per simulator CPU-second is
    // dispatches per second per core. Then the same with the session's events drawn and rendered
    // before the clock starts (`--prerender`): what issue 3's target measures, "pre-encode and
    // compress per connection".
    let servedVariants = variants.map { ($0.0, $0.1, $0.label, prerendered: false) } + variants.map { ($0.0, $0.1, $0.label, prerendered: true) }
    for (compression, settings, label, prerendered) in servedVariants {
        Benchmark(
            "session traffic, \(compression)\(label), served\(prerendered ? " pre-rendered" : "") (simulator CPU)",
            configuration: .init(metrics: [SimulatorMetrics.dispatchesPerSecond], maxDuration: .seconds(60), maxIterations: 3)
        ) { benchmark in
            let served = 300_000
            // Enough for every dispatch served: a twentieth of the events drawn (presences) are not sent.
            let ahead = prerendered ? ["--prerender", "\(served + served / 10)"] : []
            let simulator = try SimulatorProcess([
                "--guilds", "5000", "--users", "60000", "--seed", "1229", "--rate", "2000000", "--max-dispatches", "\(served)",
                "--identify-window-ms", "1", "--compression", settings == .fast ? "fast" : "discord",
            ] + ahead)
            defer { simulator.stop() }
            // Shard 0 of 4 (5,000 guilds is past one session's 2,500): READY and a GUILD_CREATE per
            // guild of the shard come first, then live traffic. The clock starts 50,000 live
            // dispatches in: by then what the simulator sends is what the client reads (a tick
            // may be generated before the client has read the whole GUILD_CREATE burst).
            let world = TrafficWorld(guildCount: 5_000, userCount: 60_000, seed: 1229)
            let opening = 1 + world.guilds.filter { ($0.id.rawValue >> 22) % 4 == 0 }.count
            let warmup = 50_000
            let startCPU = Mutex(0.0)
            let pid = simulator.processIdentifier
            try await ByteCountingClient.receive(
                opening + served, from: simulator.gatewayURL, compression: compression.rawValue, token: simulator.token, shard: [0, 4],
                intents: SimulatorMetrics.everyUnprivilegedIntentAndMembers, milestones: [opening + warmup]
            ) { _ in startCPU.withLock { $0 = SimulatorProcess.cpuSeconds(ofProcess: pid) } }
            let seconds = simulator.cpuSeconds() - startCPU.withLock { $0 }
            guard seconds > 0 else { throw SimulatorProcess.NotStarted(description: "no CPU time read from /proc/\(pid)/stat") }
            benchmark.measurement(SimulatorMetrics.dispatchesPerSecond, Int(Double(served - warmup) / seconds))
        }
    }

    // The baseline in the same run: the same kind of payloads, rendered beforehand, compressed
    // alone on one stream — what "pre-encode and compress per connection" costs.
    for (compression, settings, label) in variants {
        Benchmark("session traffic, \(compression)\(label), compress pre-rendered (baseline)") { (benchmark: Benchmark, payloads: [[UInt8]]) in
            let deflater = compression.makeDeflater(settings)
            var message = ByteBuffer()
            let started = ContinuousClock.now
            var bytes = 0
            for payload in payloads {
                message.clear()
                payload.withUnsafeBytes { deflater.deflate($0, appendingTo: &message) }
                bytes += message.readableBytes
            }
            blackHole(bytes)
            SimulatorMetrics.record(benchmark, payloads.count, since: started)
        } setup: {
            var traffic = TrafficGenerator(world: world, seed: 1)
            return traffic.payloads(count: count)
        }
    }
}

enum SimulatorMetrics {
    /// GUILDS, GUILD_MEMBERS (the simulator approves it), GUILD_MESSAGES, their reactions and
    /// typing: every kind of event the traffic has but presences, as a bot like Kamii asks.
    static let everyUnprivilegedIntentAndMembers = 1 | 2 | 512 | 1024 | 2048

    static let dispatchesPerSecond = BenchmarkMetric.custom("dispatches per second", polarity: .prefersLarger, useScalingFactor: false)

    static func record(_ benchmark: Benchmark, _ count: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        benchmark.measurement(dispatchesPerSecond, Int(Double(count) / seconds))
    }
}
