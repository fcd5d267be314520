import DiscordGateway
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// A gateway that accepts connections and then says nothing — an overloaded or broken edge. The
/// shard must give up on each connection after its timeout and try again, never hang, and still
/// shut down when told.
struct SilentGatewayTests {
    final class Accepted: Sendable {
        let count = Atomic<Int>(0)
    }

    @Test func aGatewayThatNeverAnswersIsRetriedNotWaitedOnForever() async throws {
        let accepted = Accepted()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.count.add(1, ordering: .relaxed)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(server.localAddress?.port)
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: "t", intents: [.guilds], gatewayURL: "ws://127.0.0.1:\(port)", backoffBase: 0.01, backoffCap: 0.05,
                helloTimeout: .milliseconds(200)),
            identifyGate: UnlimitedIdentifyGate())
        async let stopped = shard.run { _ in }
        let deadline = ContinuousClock.now + .seconds(30)
        while accepted.count.load(ordering: .relaxed) < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(accepted.count.load(ordering: .relaxed) >= 3, "each silent connection was given up and another tried")
        #expect(await shard.connections == 0, "no upgrade ever completed")
        await shard.shutdown()
        #expect(await stopped == .shutdown)
        try await server.close()
    }
}
