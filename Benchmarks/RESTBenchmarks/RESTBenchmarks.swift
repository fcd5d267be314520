import Benchmark
import DiscordModels
import DiscordSimulator
import DiscordREST

/// What the REST client costs: requests per second at concurrency 64 against the simulator with no
/// limit engaged (the same run's baseline is the transport alone, no limiter), and the time a
/// request spends in the limiter when its bucket is free (target: under 5 µs).
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .cpuTotal, .throughput, RESTMetrics.requestsPerSecond],
        timeUnits: .milliseconds,
        warmupIterations: 1,
        maxDuration: .seconds(10),
        maxIterations: 10
    )
    let world = TrafficWorld(guildCount: 20, userCount: 400, seed: 5)
    let requests = 5_000

    Benchmark("limiter, acquire and complete, bucket free", configuration: .init(metrics: [.wallClock, .cpuTotal, .mallocCountTotal], timeUnits: .nanoseconds, scalingFactor: .kilo)) { benchmark in
        // A large bot's global limit: the global ring holds one time per allowed request.
        var state = RateLimitState(globalLimit: 100_000)
        let routes = (0..<64).map { Route(.post, "/channels/{channel.id}/messages", ["channel.id": String(1_000 + $0)]) }
        // A real bucket hash is 32 hex digits: keys are heap strings, as in production.
        let hash = "41f9cd5d28af77da04563bcb1d67fdfd"
        guard case .proceed(let first) = state.acquire(routes[0], now: 0) else { return }
        state.complete(first, RateLimitState.Answer(status: 200, bucket: hash, limit: 1_000_000_000, remaining: 999_999_999, resetAfter: 1e9), now: 0)
        benchmark.startMeasurement()
        for index in benchmark.scaledIterations {
            let route = routes[index & 63]
            guard case .proceed(let ticket) = state.acquire(route, now: 1) else { continue }
            state.complete(ticket, RateLimitState.Answer(status: 200, bucket: hash, limit: 1_000_000_000, remaining: 999_999_999, resetAfter: 1e9), now: 1)
        }
    }

    for withLimiter in [true, false] {
        let name = withLimiter ? "client, 64 concurrent GET /users/@me" : "transport alone, 64 concurrent GET /users/@me (baseline)"
        Benchmark(name) { benchmark in
            var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
            configuration.restLimits = RESTLimits(globalPerSecond: 10_000_000, overrides: ["users-me": .init(limit: 10_000_000, seconds: 1)])
            let server = try await SimulatorServer.start(configuration)
            let clientConfiguration = RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: configuration.token, globalLimit: 100_000)
            let client = DiscordRESTClient(configuration: clientConfiguration)
            let transport = AsyncHTTPClientTransport()
            let request = TransportRequest(
                method: "GET", url: server.apiBaseURL + "/users/@me", headers: [("Authorization", "Bot \(configuration.token)")], body: nil)
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<64 {
                    group.addTask {
                        for _ in stride(from: worker, to: requests, by: 64) {
                            if withLimiter {
                                // The client's own cost: limits, headers, retries; no JSON decoding,
                                // which the baseline does not do either.
                                _ = try await client.send(Route(.get, "/users/@me"))
                            } else {
                                _ = try await transport.send(request, deadline: .now + .seconds(30))
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            RESTMetrics.record(benchmark, requests, since: started)
            try await server.stop()
        }
    }
}

enum RESTMetrics {
    static let requestsPerSecond = BenchmarkMetric.custom("requests per second", polarity: .prefersLarger, useScalingFactor: false)

    static func record(_ benchmark: Benchmark, _ count: Int, since started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        benchmark.measurement(requestsPerSecond, Int(Double(count) / seconds))
    }
}
