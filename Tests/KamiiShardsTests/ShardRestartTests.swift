import DiscordGateway
import DiscordModels
import DiscordREST
import DiscordSimulator
import KamiiShards
import KamiiTestSupport
import Testing

/// A shard the identify breaker stopped (its sessions kept dying) starts again after the
/// breaker's period, instead of leaving its guilds unserved for as long as the process runs.
struct ShardRestartTests {
    @Test func aShardStoppedByTheIdentifyBreakerStartsAgainAfterItsPeriod() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 3, userCount: 100, seed: 93), dispatchesPerSecond: 20, identifyWindowMilliseconds: 100))
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages], count: .fixed(1),
                identifyWindow: .milliseconds(100), sessionReserve: 0, identifyLimit: .init(count: 2, period: .seconds(1)),
                backoffBase: 0.02, backoffCap: 0.1),
            rest: rest, coordination: .local)
        let readies = Locked(0)
        async let stopped = manager.run { _, dispatch in
            if dispatch.name == "READY" { readies.withLock { $0 += 1 } }
        }
        // Two sessions, each invalidated once ready: the breaker stops the shard after the second.
        for round in 1...2 {
            try await waitUntil("session \(round)") { readies.value == round }
            try await waitUntil("session \(round) invalidated") { server.inject(.invalidSession(resumable: false)) > 0 }
        }
        try await waitUntil("a new session after the breaker's period") { readies.value == 3 }
        await manager.shutdown()
        let reasons = try await stopped
        #expect(reasons[0] == .shutdown, "\(reasons)")
        try await server.stop()
    }
}
