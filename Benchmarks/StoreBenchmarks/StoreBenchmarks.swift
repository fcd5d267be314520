import Benchmark
import DiscordModels
import Foundation
import KamiiStore
import Synchronization

/// `server_users` batch upsert, one connection: the checkpointer's multi-row statements against
/// the same rows written one statement per row (same transaction, same code path with
/// `batchRows: 1`) as the baseline in the same run. SQLite always; PostgreSQL when ops/bench
/// provides a server in `KAMII_BENCH_POSTGRES_URL`.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, UpsertMetrics.rowsPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(20),
        maxIterations: 10
    )

    var engines: [(name: String, engine: @Sendable () -> StoreConfiguration.Engine)] = [
        ("SQLite", { .sqlite(path: FileManager.default.temporaryDirectory.appendingPathComponent("kamii-bench-\(UUID().uuidString).sqlite").path) }),
    ]
    let opened = OpenedStore()
    if let url = ProcessInfo.processInfo.environment["KAMII_BENCH_POSTGRES_URL"] {
        engines.append(("PostgreSQL", { .postgres(url: url, searchPath: nil) }))
    }

    for (name, engine) in engines {
        for (label, batchRows) in [("multi-row", 1_000), ("row at a time", 1)] {
            Benchmark("server_users upsert, \(name), \(label)") { (benchmark: Benchmark, store: KamiiStore) async in
                // Each iteration rewrites the same rows with new values: the checkpointer's steady state.
                let rows = UpsertMetrics.rows(generation: benchmark.currentIteration)
                let started = ContinuousClock.now
                do {
                    try await store.upsertServerUsers(rows)
                } catch {
                    fatalError("upsert failed: \(error)")
                }
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                benchmark.measurement(UpsertMetrics.rowsPerSecond, Int(Double(rows.count) / seconds))
            } setup: {
                let store = try KamiiStore(StoreConfiguration(engine: engine(), maxConnections: 1, batchRows: batchRows))
                opened.hold(store)
                try await store.migrate()
                try await store.deleteGuildData(UpsertMetrics.guild)
                try await store.registerGuild(UpsertMetrics.guild)
                return store
            } teardown: {
                try await opened.release()
            }
        }
    }
}

enum UpsertMetrics {
    static let rowsPerSecond = BenchmarkMetric.custom("rows per second", polarity: .prefersLarger, useScalingFactor: false)
    static let guild = GuildID(unixMilliseconds: 1_600_000_000_000, increment: 77)
    static let rowCount = 20_000

    static func rows(generation: Int) -> [ServerUserStats] {
        let now = Date()
        return (0..<rowCount).map { index in
            let xp = Int64(index * 37 + generation)
            return ServerUserStats(
                guild: guild, user: UserID(unixMilliseconds: 1_500_000_000_000 + UInt64(index), increment: UInt64(index % 4096)),
                xp: xp, level: Int(xp / 500), karma: Int64(index % 50), trust: index % 101, messageCount: xp / 20, updatedAt: now)
        }
    }
}

/// The store a benchmark opened, closed (and its SQLite files removed) when the benchmark ends.
final class OpenedStore: Sendable {
    private let store = Mutex<KamiiStore?>(nil)

    func hold(_ opened: KamiiStore) {
        store.withLock { $0 = opened }
    }

    func release() async throws {
        guard let opened = store.withLock({ current -> KamiiStore? in defer { current = nil }; return current }) else { return }
        if case .postgres = opened.configuration.engine {
            try await opened.deleteGuildData(UpsertMetrics.guild)
        }
        try await opened.close()
        if case .sqlite(let path) = opened.configuration.engine {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    }
}
