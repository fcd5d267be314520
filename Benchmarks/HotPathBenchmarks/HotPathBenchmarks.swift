import Benchmark
import BenchmarkSupport
import DiscordGateway
import DiscordSimulator
import Foundation
import DiscordModels
import KamiiCore

/// Issue 7's stage figures on one core, all in one run on the same bytes: 100,000 compressed
/// dispatches of a 5,000-guild world inflated alone (the yardstick), then with the envelope and
/// its hot fields, then through the guild actors with Kamii's default rules. The harness counts
/// mallocs per iteration; `ops/bench` prints them per event and each stage against inflate alone.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal] + HotPathMetrics.all,
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 10
    )

    // Issue 7's "≤ 2 KiB per idle guild actor": 100,000 guilds get one message each (a cooldown
    // entry, as an actor keeps after activity), their changes are taken as a flush would, and the
    // resident memory added is divided among the actors (router entry, actor, slot, state).
    Benchmark(
        "guild actors: memory per idle actor",
        configuration: .init(metrics: [.wallClock, HotPathMetrics.bytesPerIdleActor], warmupIterations: 0, maxIterations: 1)
    ) { benchmark in
        let guilds = 100_000
        let dispatches = (0..<guilds).map { index in
            let guild = (UInt64(1_000 + index) << 22) | 7
            let payload = #"{"t":"MESSAGE_CREATE","s":\#(index + 1),"op":0,"d":{"id":"\#((UInt64(1_200_000_000_000) << 22) + UInt64(index))","#
                + #""channel_id":"700","author":{"id":"\#(UInt64(index + 1) << 22)","bot":false},"guild_id":"\#(guild)","type":0}}"#
            return ShardDispatch(payload: Array(payload.utf8))!
        }
        let router = GuildRouter(stats: StatsBuffer(capacity: .max / 2), settings: FixedGuildSettings())
        let before = BenchmarkSupport.residentBytes()
        benchmark.startMeasurement()
        for (index, dispatch) in dispatches.enumerated() {
            await router.route(dispatch)
            if index % 5_000 == 4_999 { router.stats.acknowledge(router.stats.take().values.reduce(0) { $0 + $1.deltaCount }) }
        }
        router.stats.acknowledge(router.stats.take().values.reduce(0) { $0 + $1.deltaCount })
        benchmark.stopMeasurement()
        precondition(router.activeGuilds == guilds, "\(router.activeGuilds) actors")
        benchmark.measurement(HotPathMetrics.bytesPerIdleActor, (BenchmarkSupport.residentBytes() - before) / guilds)
        withExtendedLifetime(router) {}
    }

    for compression in [GatewayCompression.zlibStream, .zstdStream] {
        for stage in HotPathReplay.Stage.allCases {
            Benchmark("hot path \(compression): \(stage.rawValue)") { benchmark in
                let corpus = HotPathCorpus.corpus(for: compression)
                // Fresh actors every iteration: the same messages again would meet their own cooldowns.
                let router = stage == .guildActors ? GuildRouter(stats: StatsBuffer(capacity: .max / 2), settings: FixedGuildSettings()) : nil
                let inflater = compression.makeInflater()
                let cpu = BenchmarkSupport.processCPUSeconds()
                benchmark.startMeasurement()
                let counts = try await corpus.replay.run(stage, capture: corpus.bytes, inflater: inflater, router: router)
                benchmark.stopMeasurement()
                precondition(counts.payloads == HotPathCorpus.payloads.count, "replayed \(counts.payloads) payloads")
                HotPathMetrics.record(benchmark, payloads: counts.payloads, cpuSeconds: BenchmarkSupport.processCPUSeconds() - cpu)
            }
        }
    }
}

/// Per-event figures from each iteration's own CPU time (this process, all threads).
enum HotPathMetrics {
    static let payloadsPerCPUSecond = BenchmarkMetric.custom("payloads per CPU second", polarity: .prefersLarger, useScalingFactor: false)
    static let bytesPerIdleActor = BenchmarkMetric.custom("bytes per idle guild actor", polarity: .prefersSmaller, useScalingFactor: false)
    static let all = [payloadsPerCPUSecond]

    static func record(_ benchmark: Benchmark, payloads: Int, cpuSeconds: Double) {
        benchmark.measurement(payloadsPerCPUSecond, Int(Double(payloads) / max(cpuSeconds, 1e-9)))
    }
}

/// The capture every stage replays, built once per compression from a fixed seed.
final class HotPathCorpus: @unchecked Sendable {
    static var payloads: [[UInt8]] { BenchmarkSupport.corpusPayloads }

    static let zlibStream = HotPathCorpus(.zlibStream)
    static let zstdStream = HotPathCorpus(.zstdStream)

    static func corpus(for compression: GatewayCompression) -> HotPathCorpus {
        compression == .zlibStream ? zlibStream : zstdStream
    }

    let bytes: UnsafeRawBufferPointer
    let replay: HotPathReplay

    private init(_ compression: GatewayCompression) {
        let deflater = compression.makeDeflater()
        let capture = GatewayCapture.encode(Self.payloads.map { deflater.deflate($0) })
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: capture.count, alignment: 16)
        storage.copyBytes(from: capture)
        bytes = UnsafeRawBufferPointer(storage)
        replay = try! HotPathReplay(capture: bytes)
    }
}
