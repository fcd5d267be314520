import Benchmark
import DiscordGateway
import DiscordSimulator

/// How fast the simulator can produce what a session sends: draw an event, render its JSON,
/// number it, compress it on the connection's stream. The baseline in the same run is the same
/// payloads compressed alone (pre-rendered), which bounds what any faster rendering could reach.
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

    // The whole serving path: a real session over loopback (draw, number, keep for replay,
    // compress, write through NIO) to a client that only counts messages.
    for compression in [GatewayCompression.zstdStream, .zlibStream] {
        Benchmark("session traffic, \(compression), served over loopback", configuration: .init(maxIterations: 5)) { benchmark in
            let served = 20_000
            let configuration = SimulatorConfiguration(
                world: world, dispatchesPerSecond: 10_000_000, maxDispatchesPerSession: served)
            let server = try await SimulatorServer.start(configuration)
            let started = ContinuousClock.now
            // Shard 0 of 4 (5,000 guilds is past one session's 2,500): READY and a GUILD_CREATE per
            // guild of the shard come first.
            let shardGuilds = world.guilds.filter { ($0.id.rawValue >> 22) % 4 == 0 }.count
            try await ByteCountingClient.receive(
                served + 1 + shardGuilds, from: server.gatewayURL, compression: compression.rawValue, token: configuration.token, shard: [0, 4])
            SimulatorMetrics.record(benchmark, served, since: started)
            try await server.stop()
        }
    }

    for compression in [GatewayCompression.zstdStream, .zlibStream] {
        Benchmark("session traffic, \(compression), compress pre-rendered (baseline)") { (benchmark: Benchmark, payloads: [[UInt8]]) in
            let deflater = compression.makeDeflater()
            let started = ContinuousClock.now
            var bytes = 0
            for payload in payloads { bytes += deflater.deflate(payload).count }
            blackHole(bytes)
            SimulatorMetrics.record(benchmark, payloads.count, since: started)
        } setup: {
            var traffic = TrafficGenerator(world: world, seed: 1)
            return traffic.payloads(count: count)
        }
    }
}

enum SimulatorMetrics {
    static let dispatchesPerSecond = BenchmarkMetric.custom("dispatches per second", polarity: .prefersLarger, useScalingFactor: false)

    static func record(_ benchmark: Benchmark, _ count: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        benchmark.measurement(dispatchesPerSecond, Int(Double(count) / seconds))
    }
}
