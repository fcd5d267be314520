import Benchmark
import CInflateBaseline
import DiscordGateway

/// Inflate throughput: Kamii's Swift inflaters against the same loop written as plain C, on the
/// same corpus in the same run. One iteration inflates the whole corpus from a fresh stream.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .throughput] + InflateMetrics.all,
        timeUnits: .milliseconds,
        warmupIterations: 2,
        maxDuration: .seconds(15),
        maxIterations: 30
    )

    for compression in [GatewayCompression.zlibStream, .zstdStream] {
        Benchmark("\(compression) Swift inflater") { benchmark, corpus in
            let inflater = compression.makeInflater()
            benchmark.startMeasurement()
            let clock = ContinuousClock()
            let started = clock.now
            inflater.reset()
            var total = 0
            for index in 0..<corpus.messageCount {
                do {
                    total += try inflater.inflate(corpus.message(index))?.count ?? 0
                } catch {
                    fatalError("the corpus failed to inflate: \(error)")
                }
            }
            InflateMetrics.record(benchmark, corpus, clock.now - started, payloadBytes: total)
        } setup: {
            InflateCorpus.corpus(for: compression)
        }

        Benchmark("\(compression) C baseline") { benchmark, corpus in
            let inflater = kamii_c_inflater_create(compression == .zlibStream ? 0 : 1, InflaterLimits().initialOutputCapacity)
            defer { kamii_c_inflater_destroy(inflater) }
            benchmark.startMeasurement()
            let clock = ContinuousClock()
            let started = clock.now
            let total = corpus.starts.withUnsafeBufferPointer { starts in
                kamii_c_inflate_all(inflater, starts.baseAddress, corpus.lengths, corpus.messageCount)
            }
            precondition(total >= 0, "the corpus failed to inflate in C")
            InflateMetrics.record(benchmark, corpus, clock.now - started, payloadBytes: Int(total))
        } setup: {
            InflateCorpus.corpus(for: compression)
        }
    }
}

/// Figures per message, computed from each iteration's own wall-clock time.
enum InflateMetrics {
    static let nanosecondsPerMessage = BenchmarkMetric.custom("ns per message", polarity: .prefersSmaller, useScalingFactor: false)
    static let messagesPerSecond = BenchmarkMetric.custom("messages per second", polarity: .prefersLarger, useScalingFactor: false)
    static let megabytesPerSecond = BenchmarkMetric.custom("payload MB per second", polarity: .prefersLarger, useScalingFactor: false)
    static let all = [nanosecondsPerMessage, messagesPerSecond, megabytesPerSecond]

    static func record(_ benchmark: Benchmark, _ corpus: InflateCorpus, _ elapsed: Duration, payloadBytes: Int) {
        precondition(payloadBytes == corpus.payloadBytes, "inflated \(payloadBytes) bytes, expected \(corpus.payloadBytes)")
        let (seconds, attoseconds) = elapsed.components
        let nanoseconds = Double(seconds) * 1e9 + Double(attoseconds) / 1e9
        benchmark.measurement(nanosecondsPerMessage, Int(nanoseconds / Double(corpus.messageCount)))
        benchmark.measurement(messagesPerSecond, Int(Double(corpus.messageCount) / nanoseconds * 1e9))
        benchmark.measurement(megabytesPerSecond, Int(Double(payloadBytes) / nanoseconds * 1e3))
    }
}
