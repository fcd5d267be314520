import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Testing

/// A gateway that takes an identify and answers nothing (heartbeats still acknowledged, as a node
/// in trouble does) does not hold the shard: by the second heartbeat after the identify the shard
/// connects again, identifies, and runs.
struct ShardUnansweredIdentifyTests {
    @Test func anIdentifyLeftUnansweredIsMadeAgain() async throws {
        let world = TrafficWorld(guildCount: 4, userCount: 100, seed: 82)
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 200, world: world, dispatchesPerSecond: 50, maxDispatchesPerSession: 20))
        server.leaveIdentifiesUnanswered(1)
        let shard = ShardConnectionTests.shard(server)
        let received = ShardConnectionTests.Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("READY, four guilds and their traffic") { received.count == 1 + 4 + 20 }
        #expect(received.all.first?.name == "READY")
        #expect(await shard.handshakesUnanswered == 1)
        #expect(await shard.identifies == 2)
        #expect(server.record.connections.count == 2)
        #expect(server.record.connections.first?.clientCloseCode == 4000)
        await shard.shutdown()
        #expect(await stopped == .shutdown)
        try await server.stop()
    }
}
