import DiscordSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KamiiTestSupport
import Testing

/// `kamii run` with `metrics_port`: Prometheus scrapes what the shards and the hot path did.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RunMetricsTests {
    typealias RunningKamii = RunCommandTests.RunningKamii

    /// One scrape: status, and each sample line's value by its name and labels.
    static func scrape(_ url: URL, method: String = "GET") async throws -> (status: Int, samples: [String: Double]) {
        var request = URLRequest(url: url)
        request.httpMethod = method
        let (data, response) = try await URLSession.shared.data(for: request)
        var samples: [String: Double] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, samples)
    }

    @Test func theShardsAndTheHotPathAreScraped() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 8, userCount: 200, seed: 95), dispatchesPerSecond: 1_000, maxDispatchesPerSession: 3_000,
            identifyWindowMilliseconds: 300))
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        var environment = try RunHotPathTests.environment(server, prefix: prefix)
        environment["KAMII_METRICS_PORT"] = "0"
        // A database, so that the checkpointer runs too.
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-metrics-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) } }
        environment["KAMII_DATABASE_URL"] = "sqlite:\(database)"
        environment["KAMII_CHECKPOINT_INTERVAL_SECONDS"] = "1"
        let kamii = try RunningKamii(["run"], environment: environment)
        do {
            var address: URL?
            try await waitUntil("the metrics endpoint") {
                guard let found = kamii.log.firstMatch(of: /url=(http:\/\/127\.0\.0\.1:\d+\/metrics)/) else { return false }
                address = URL(string: String(found.1))
                return true
            }
            let metrics = try #require(address)
            // Both sessions' traffic sent and flushed — judged on one scrape, the one the checks
            // below read (a later one could meet a change that came in since: a lag above 0).
            var settled: (status: Int, samples: [String: Double])?
            try await waitUntil("every dispatch counted and flushed") {
                let scrape = try await Self.scrape(metrics)
                let samples = scrape.samples
                guard samples["kamii_hot_path_events_total"] ?? 0 > 0 && samples["kamii_stats_unflushed_changes"] == 0
                    && samples["kamii_stats_flush_lag_seconds"] == 0
                    && samples["kamii_checkpoint_members_total"] ?? 0 > 0
                    && RunHotPathTests.trafficIsOver(server)
                    && samples.filter({ $0.key.hasPrefix("kamii_gateway_dispatches_total") }).values.reduce(0, +)
                        >= Double(RunHotPathTests.liveDispatchesSent(server)) else { return false }
                settled = scrape
                return true
            }
            let (status, samples) = try #require(settled)
            #expect(status == 200)
            let sent = server.record.connections.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) }
            #expect(samples[#"kamii_gateway_dispatches_total{type="MESSAGE_CREATE"}"#] == Double(sent), "\(samples)")
            #expect(samples["kamii_hot_path_messages_total"] == Double(sent))
            #expect(samples["kamii_shards"] == 2 && samples["kamii_shards_ready"] == 2)
            #expect(samples["kamii_stats_flushes_total"] ?? 0 > 0)
            #expect(samples["kamii_stats_changes_flushed_total"] ?? 0 >= Double(sent), "every message is a change")
            #expect(samples["kamii_guild_actors"] ?? 0 > 0)
            // Everything flushed: nothing waits, and no shard was held back.
            #expect(samples["kamii_stats_flush_lag_seconds"] == 0)
            #expect(samples["kamii_stats_last_flush_seconds"] ?? 0 > 0)
            #expect(samples["kamii_stats_backpressure_waits_total"] == 0)
            #expect(samples["kamii_checkpoint_failures_total"] == 0)
            // Failures counted where they happen are there at zero before the first one.
            #expect(samples["kamii_identify_refused_total"] == 0, "\(samples)")
            #expect(samples[#"kamii_shard_stops_total{reason="close_4004"}"#] == 0)
            #expect(samples[#"kamii_shard_stops_total{reason="identify_loop"}"#] == 0)
            #expect(samples["kamii_checkpoint_age_seconds"].map { $0 >= 0 && $0.isFinite } == true, "\(samples)")
            let again = try await Self.scrape(metrics).samples
            #expect(again[#"kamii_gateway_dispatches_total{type="MESSAGE_CREATE"}"#] == Double(sent), "counted once, however often scraped")
            #expect(try await Self.scrape(metrics.deletingLastPathComponent().appendingPathComponent("other")).status == 404)
            #expect(try await Self.scrape(metrics, method: "POST").status == 405)
        } catch {
            _ = await kamii.stop(signal: SIGKILL)
            Issue.record("\(error); kamii run said: \(kamii.log)")
            throw error
        }
        #expect(await kamii.stop() == 0, "\(kamii.log)")
        try await server.stop()
    }
}
