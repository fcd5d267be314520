import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Testing

/// A shard's connect gate (the shard manager's wait for the shard's lease) is passed before every
/// connection, and a drop asked after it was passed — before the connection is even up — still
/// drops that connection: the lease it was let through for may be gone by then.
struct ShardConnectGateTests {
    @Test func aDropAskedWhileTheConnectionIsMadeSendsItBackThroughTheGate() async throws {
        let world = TrafficWorld(guildCount: 2, userCount: 50, seed: 83)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 20, maxDispatchesPerSession: 10))
        let passes = Locked(0)
        let connection = Locked<ShardConnection?>(nil)
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages], gatewayURL: server.gatewayURL,
                compression: .zstdStream, backoffBase: 0.05, backoffCap: 0.5),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)),
            connectGate: {
                let pass = passes.withLock { $0 += 1; return $0 }
                // The lease lost just after the gate let the first connection through.
                if pass == 1, let shard = connection.value { await shard.dropConnection() }
                return true
            })
        connection.withLock { $0 = shard }
        let received = ShardConnectionTests.Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("READY and its guilds") { received.count >= 3 }
        #expect(passes.value == 2, "the first connection was dropped and the gate passed again")
        #expect(await shard.identifies == 1, "the dropped connection never identified")
        await shard.shutdown()
        #expect(await stopped == .shutdown)
        try await server.stop()
    }

    @Test func aGateThatSaysNoStopsTheShard() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 1, userCount: 10, seed: 84), dispatchesPerSecond: 0))
        let shard = ShardConnection(
            configuration: ShardConfiguration(token: server.configuration.token, intents: [.guilds], gatewayURL: server.gatewayURL),
            connectGate: { false })
        #expect(await shard.run { _ in } == .shutdown)
        #expect(server.record.connections.isEmpty)
        try await server.stop()
    }
}
