import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Testing

/// A message over the shard's size limit is refused by the WebSocket layer itself; that is a
/// broken stream like a corrupt message: resumed, and given up (a new session) when it keeps
/// coming back at the same point, rather than replayed for ever.
struct ShardMessageLimitTests {
    @Test func aMessageOverTheLimitBreaksTheStreamAndItsSessionIsGivenUp() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 50, seed: 91)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 0, identifyWindowMilliseconds: 100))
        // READY fits; the guild's GUILD_CREATE (roles, channels, the bot's member) does not.
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds], gatewayURL: server.gatewayURL, compression: .none,
                maxMessageBytes: 1_000, backoffBase: 0.02, backoffCap: 0.1),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(100)))
        let names = ShardConnectionTests.Received()
        async let stopped = shard.run { names.add($0) }
        try await waitUntil("the session given up") { await shard.sessionsAbandoned >= 1 }
        await shard.shutdown()
        _ = await stopped
        #expect(!names.all.contains { $0.name == "GUILD_CREATE" }, "never delivered")
        #expect(server.record.connections.count >= 3)
        try await server.stop()
    }
}
