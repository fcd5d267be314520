import DiscordGateway
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiShards
import KamiiTestSupport
import Testing

/// A thousand faults at random, each on a random shard's connection, while traffic flows: every
/// consumer still receives exactly what the simulator's record says it sent in that shard's
/// session — no gap, no repeat, one session per shard throughout.
struct RandomFaultRunTests {
    /// splitmix64: the fault plan is the same on every run.
    struct SeededGenerator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Every fault Discord's gateway can throw at a healthy session, by weight. A silenced ACK
    /// costs a shard two heartbeat intervals, so it is rare.
    static let faults: [(SimulatorFault, weight: Int)] = [
        (.reconnect, 14), (.invalidSession(resumable: true), 12), (.dropConnection, 14), (.close(code: 4000), 8),
        (.close(code: 4001), 4), (.close(code: 4002), 4), (.close(code: 4008), 4), (.close(code: 1001), 4),
        (.corruptNextMessage, 12), (.requestHeartbeat, 12), (.pauseReading(milliseconds: 80), 10), (.stopHeartbeatACKs, 1),
    ]

    static func pick(_ generator: inout SeededGenerator) -> SimulatorFault {
        var roll = Int.random(in: 0..<faults.reduce(0) { $0 + $1.weight }, using: &generator)
        for (fault, weight) in faults {
            if roll < weight { return fault }
            roll -= weight
        }
        return .reconnect
    }

    @Test func aThousandRandomFaultsLoseAndRepeatNothing() async throws {
        let shardCount = 4
        let perSession = 12_000
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 3_000, world: TrafficWorld(guildCount: 24, userCount: 800, seed: 94),
            dispatchesPerSecond: 600, maxDispatchesPerSession: perSession, maxConcurrency: shardCount, identifyWindowMilliseconds: 300))
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: ShardManagerTests.intents, count: .fixed(shardCount),
                identifyWindow: .milliseconds(300), backoffBase: 0.02, backoffCap: 0.3),
            rest: rest, coordination: .local)
        let received = ShardManagerTests.Received()
        async let run = manager.run { received.add($0, $1) }
        try await waitUntil("every shard's session") { received.readies() == shardCount }
        let sessions = try (0..<shardCount).map { shard in
            try #require(server.record.connections.first { $0.shard == [shard, shardCount] && $0.sessionID != nil }?.sessionID)
        }

        var generator = SeededGenerator(state: 94)
        var injected: [String: Int] = [:]
        var count = 0
        while count < 1_000 {
            let fault = Self.pick(&generator)
            let shard = Int.random(in: 0..<shardCount, using: &generator)
            // A connection between a drop and its resume cannot take a fault: try again shortly.
            if server.inject(fault, session: sessions[shard]) > 0 {
                count += 1
                injected["\(fault)", default: 0] += 1
            }
            try await Task.sleep(for: .milliseconds(12))
        }

        // The traffic of each session ends after `perSession` live dispatches; then everything the
        // simulator sent must have arrived.
        func sent(_ shard: Int) -> [String: Int] {
            server.record.dispatches(inSession: sessions[shard]).filter { $0.key != "RESUMED" }
        }
        func got(_ shard: Int) -> [String: Int] {
            Dictionary(grouping: received.of(shard).filter { $0.name != "RESUMED" }, by: \.name).mapValues(\.count)
        }
        try? await waitUntil("every session's traffic, delivered", timeout: .seconds(120)) {
            (0..<shardCount).allSatisfy { shard in
                let sentNow = sent(shard)
                let live = sentNow.filter { $0.key != "READY" && $0.key != "GUILD_CREATE" }.values.reduce(0, +)
                return live >= perSession && got(shard) == sentNow
            }
        }
        await manager.shutdown()
        let reasons = try await run

        #expect(count == 1_000 && injected.count == Self.faults.count, "every kind of fault was drawn: \(injected)")
        #expect(reasons.values.allSatisfy { $0 == .shutdown })
        for shard in 0..<shardCount {
            let items = received.of(shard)
            #expect(items.filter { $0.name == "READY" }.count == 1, "shard \(shard) kept one session")
            expectContiguousSequences(items, "shard \(shard): ")
            let (gotNow, sentNow) = (got(shard), sent(shard))
            #expect(gotNow == sentNow, "shard \(shard): \(sentNow.keys.sorted().filter { gotNow[$0] != sentNow[$0] }.map { "\($0) got \(gotNow[$0] ?? 0) of \(sentNow[$0] ?? 0)" })")
        }
        #expect(Set(server.record.connections.compactMap(\.sessionID)).count == shardCount)
        let resumed = server.record.connections.filter(\.resumed).count
        #expect(resumed >= 500, "most faults ended in a resume (\(resumed))")
        try await server.stop()
    }
}
