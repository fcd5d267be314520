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

    /// A server on loopback that accepts connections, counts them and never writes a byte.
    static func silentGateway() async throws -> (server: any Channel, port: Int, accepted: Accepted) {
        let accepted = Accepted()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.count.add(1, ordering: .relaxed)
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return (server, try #require(server.localAddress?.port), accepted)
    }

    @Test func aGatewayThatNeverAnswersIsRetriedNotWaitedOnForever() async throws {
        let (server, port, accepted) = try await Self.silentGateway()
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

    @Test func shuttingDownDoesNotWaitOutTheReconnectBackoff() async throws {
        let (server, port, accepted) = try await Self.silentGateway()
        // The second failed connection waits at least 50 s before the third.
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: "t", intents: [.guilds], gatewayURL: "ws://127.0.0.1:\(port)", backoffBase: 100, backoffCap: 100,
                helloTimeout: .milliseconds(100)),
            identifyGate: UnlimitedIdentifyGate())
        let stopped = Task { await shard.run { _ in } }
        let deadline = ContinuousClock.now + .seconds(30)
        while accepted.count.load(ordering: .relaxed) < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // Past the second connection's timeout: the shard is in its backoff now.
        try await Task.sleep(for: .milliseconds(600))
        await shard.shutdown()
        #expect(await Self.stopsFirst(stopped) == .shutdown)
        #expect(accepted.count.load(ordering: .relaxed) == 2, "no connection after the shutdown")
        try await server.close()
    }

    /// How `task` ended, or nil when it was still running after 20 s (far longer than stopping
    /// takes, far shorter than the shards' timeouts below).
    /// (Unstructured waits: awaiting `task.value` ignores cancellation, so a group would wait for a
    /// shard that never stops instead of failing.)
    static func stopsFirst(_ task: Task<ShardStateMachine.StopReason, Never>) async -> ShardStateMachine.StopReason? {
        let answered = Mutex(false)
        return await withCheckedContinuation { (first: CheckedContinuation<ShardStateMachine.StopReason?, Never>) in
            let answer: @Sendable (ShardStateMachine.StopReason?) -> Void = { outcome in
                if answered.withLock({ done in defer { done = true }; return !done }) { first.resume(returning: outcome) }
            }
            Task { answer(await task.value) }
            Task { try? await Task.sleep(for: .seconds(20)); answer(nil) }
        }
    }

    /// A shard whose first connection the silent gateway has accepted and whose WebSocket upgrade
    /// is now waiting for an answer; each phase of a connection may take two minutes before the
    /// shard gives up on its own.
    static func shardWaitingForItsUpgrade() async throws
        -> (server: any Channel, accepted: Accepted, shard: ShardConnection, running: Task<ShardStateMachine.StopReason, Never>)
    {
        let (server, port, accepted) = try await silentGateway()
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: "t", intents: [.guilds], gatewayURL: "ws://127.0.0.1:\(port)", helloTimeout: .seconds(120)),
            identifyGate: UnlimitedIdentifyGate())
        let running = Task { await shard.run { _ in } }
        let deadline = ContinuousClock.now + .seconds(30)
        while accepted.count.load(ordering: .relaxed) < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        try #require(accepted.count.load(ordering: .relaxed) == 1)
        return (server, accepted, shard, running)
    }

    @Test func shuttingDownGivesUpAConnectionStillWaitingForItsUpgrade() async throws {
        let (server, accepted, shard, running) = try await Self.shardWaitingForItsUpgrade()
        await shard.shutdown()
        #expect(await Self.stopsFirst(running) == .shutdown)
        #expect(accepted.count.load(ordering: .relaxed) == 1, "no connection after the shutdown")
        #expect(await shard.connections == 0)
        try await server.close()
    }

    @Test func cancellingTheShardsTaskGivesUpAConnectionStillWaitingForItsUpgrade() async throws {
        let (server, accepted, _, running) = try await Self.shardWaitingForItsUpgrade()
        running.cancel()
        #expect(await Self.stopsFirst(running) == .shutdown)
        #expect(accepted.count.load(ordering: .relaxed) == 1, "no connection after the cancellation")
        try await server.close()
    }
}
