import Benchmark
import BenchmarkSupport
import DiscordGateway
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiShards
import Synchronization

/// Issue 4's targets, against `kamii simulate` in its own process (so this process's memory and CPU
/// are the shards' alone): the memory of 1,000 idle shards; a cold start of 1,024 shards at
/// max_concurrency 16 against the ideal schedule; one shard's socket-to-consumer rate per CPU-second
/// against inflating the same world's traffic alone, in the same run.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock], timeUnits: .seconds, warmupIterations: 0, maxDuration: .seconds(600), maxIterations: 1)

    for compression in [GatewayCompression.zlibStream, .zstdStream] {
        Benchmark("shards: 1,000 idle, \(compression)", configuration: .init(metrics: [.wallClock, ShardMetrics.kibPerIdleShard])) { benchmark in
            let simulator = try SimulatorProcess([
                "--guilds", "2000", "--users", "4000", "--rate", "0", "--shards", "1000", "--max-concurrency", "1000",
                "--identify-window-ms", "10", "--global-limit", "1000", "--session-start-limit", "5000",
            ])
            defer { simulator.stop() }
            let before = BenchmarkSupport.residentBytes()
            let ready = try await ShardFleet.start(simulator, shards: 1_000, compression: compression, window: .milliseconds(10))
            // Idle: only heartbeats now (every 41 s); let the buffers of the start settle.
            try await Task.sleep(for: .seconds(2))
            let after = BenchmarkSupport.residentBytes()
            benchmark.measurement(ShardMetrics.kibPerIdleShard, (after - before) / 1_000 / 1_024)
            await ready.stop()
        }
    }

    for coordination in ["local", "redis"] {
        Benchmark("shards: cold start 1,024 at max_concurrency 16, \(coordination) queue", configuration: .init(metrics: [.wallClock, ShardMetrics.percentOfIdeal, ShardMetrics.extraIdentifies])) { benchmark in
            let window = Duration.seconds(1)
            let simulator = try SimulatorProcess([
                "--guilds", "2048", "--users", "4096", "--rate", "0", "--shards", "1024", "--max-concurrency", "16",
                "--identify-window-ms", "1000", "--global-limit", "1000", "--session-start-limit", "5000",
            ])
            defer { simulator.stop() }
            var redis: RedisClient?
            if coordination == "redis" {
                guard let url = ProcessInfo.processInfo.environment["KAMII_BENCH_REDIS_URL"] else {
                    print("KAMII_BENCH_REDIS_URL is not set (ops/bench sets it): the Redis cold start is skipped")
                    return
                }
                redis = RedisClient(configuration: try RedisConfiguration(url: url))
            }
            let started = ContinuousClock.now
            let fleet = try await ShardFleet.start(simulator, shards: 1_024, compression: .zlibStream, window: window, redis: redis)
            let took = ContinuousClock.now - started
            // 1,024 shards, 16 per window: 64 windows.
            benchmark.measurement(ShardMetrics.percentOfIdeal, Int((took / (window * 64) * 100).rounded()))
            var identifies = 0
            for shard in await fleet.manager.connections.values { identifies += await shard.identifies }
            // Identifies beyond one per shard: each is an op 9 for a bucket identified too early.
            benchmark.measurement(ShardMetrics.extraIdentifies, identifies - 1_024)
            await fleet.stop()
            await redis?.close()
        }
    }

    for compression in [GatewayCompression.zstdStream, .zlibStream] {
        Benchmark("shard: socket to consumer, \(compression)", configuration: .init(metrics: [
            .wallClock, ShardMetrics.shardRate, ShardMetrics.inflateRate, ShardMetrics.percentOfInflate,
        ])) { benchmark in
            let (guilds, users, seed, count) = (2_000, 30_000, UInt64(7), 200_000)
            // The baseline: this world's traffic, compressed as the simulator compresses it, inflated alone.
            var traffic = TrafficGenerator(world: TrafficWorld(guildCount: guilds, userCount: users, seed: seed), seed: seed &+ 1)
            let deflater = compression.makeDeflater()
            let frames = (0..<count).map { _ in deflater.deflate(traffic.nextPayload()) }
            let inflater = compression.makeInflater(limits: InflaterLimits())
            var inflated = 0
            let inflateStart = BenchmarkSupport.processCPUSeconds()
            for frame in frames {
                try frame.withUnsafeBytes { if let payload = try inflater.inflate($0) { inflated += payload.count } }
            }
            let inflateRate = Double(count) / (BenchmarkSupport.processCPUSeconds() - inflateStart)
            blackHole(inflated)

            // The shard: socket, WebSocket, inflate, envelope, guild, ordered hand-off to a consumer.
            let simulator = try SimulatorProcess([
                "--guilds", "\(guilds)", "--users", "\(users)", "--seed", "\(seed)", "--rate", "100000000",
                "--max-dispatches", "\(count)", "--shards", "1",
            ])
            defer { simulator.stop() }
            let shard = ShardConnection(
                configuration: ShardConfiguration(
                    token: simulator.token, intents: [.guilds, .guildMembers, .guildMessages, .guildMessageReactions],
                    gatewayURL: simulator.gatewayURL, compression: compression),
                identifyGate: UnlimitedIdentifyGate())
            let received = Atomic<Int>(0)
            let expected = count + 1 + guilds  // READY, a GUILD_CREATE per guild, the live traffic
            let shardStart = BenchmarkSupport.processCPUSeconds()
            let run = Task { await shard.run { _ in received.add(1, ordering: .relaxed) } }
            let deadline = ContinuousClock.now + .seconds(300)
            while received.load(ordering: .relaxed) < expected, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(5))
            }
            let shardRate = Double(received.load(ordering: .relaxed)) / (BenchmarkSupport.processCPUSeconds() - shardStart)
            await shard.shutdown()
            _ = await run.value
            benchmark.measurement(ShardMetrics.shardRate, Int(shardRate))
            benchmark.measurement(ShardMetrics.inflateRate, Int(inflateRate))
            benchmark.measurement(ShardMetrics.percentOfInflate, Int((shardRate / inflateRate * 100).rounded()))
        }
    }
}

enum ShardMetrics {
    static let extraIdentifies = BenchmarkMetric.custom("identifies beyond one per shard", polarity: .prefersSmaller, useScalingFactor: false)
    static let shardRate = BenchmarkMetric.custom("shard messages per CPU-second", polarity: .prefersLarger, useScalingFactor: false)
    static let inflateRate = BenchmarkMetric.custom("inflate-only messages per CPU-second", polarity: .prefersLarger, useScalingFactor: false)
    static let percentOfInflate = BenchmarkMetric.custom("shard rate as % of inflate-only", polarity: .prefersLarger, useScalingFactor: false)
    static let kibPerIdleShard = BenchmarkMetric.custom("KiB per idle shard", polarity: .prefersSmaller, useScalingFactor: false)
    static let percentOfIdeal = BenchmarkMetric.custom("% of the ideal schedule", polarity: .prefersSmaller, useScalingFactor: false)
}

/// A manager's shards, started and waited for until every one is READY.
struct ShardFleet {
    let manager: ShardManager
    let run: Task<Void, any Error>

    static func start(
        _ simulator: SimulatorProcess, shards: Int, compression: GatewayCompression, window: Duration, redis: RedisClient? = nil
    ) async throws -> ShardFleet {
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: simulator.apiURL, token: simulator.token, globalLimit: 1_000))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: simulator.token, intents: [.guilds, .guildMessages], compression: compression, count: .fixed(shards),
                identifyWindow: window, namespace: "bench-\(UInt64.random(in: 0...UInt64.max))"),
            rest: rest, coordination: redis.map { .redis($0) } ?? .local)
        let ready = Ready()
        let run = Task { _ = try await manager.run { shard, dispatch in if dispatch.name == "READY" { ready.add(shard) } } }
        let deadline = ContinuousClock.now + .seconds(300)
        while ready.count < shards {
            guard ContinuousClock.now < deadline else {
                var missing: [String] = []
                for (id, shard) in await manager.connections where !ready.contains(id) {
                    missing.append("shard \(id): \(await shard.connections) connections, \(await shard.identifies) identifies")
                }
                await manager.shutdown()
                throw NotReady(description: "only \(ready.count) of \(shards) shards were READY after 300 s: \(missing)")
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return ShardFleet(manager: manager, run: run)
    }

    func stop() async {
        await manager.shutdown()
        _ = try? await run.value
    }

    struct NotReady: Error, CustomStringConvertible {
        let description: String
    }

    final class Ready: Sendable {
        private let shards = Mutex(Set<Int>())
        func add(_ shard: Int) { shards.withLock { _ = $0.insert(shard) } }
        var count: Int { shards.withLock { $0.count } }
        func contains(_ shard: Int) -> Bool { shards.withLock { $0.contains(shard) } }
    }
}
