import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import kamii
import KamiiTestSupport
import Logging
import NIOCore
import NIOPosix
import Testing

/// The `/metrics` endpoint's limits: what a client that connects and idles can hold.
struct MetricsEndpointTests {
    /// Runs an endpoint on a free loopback port for `body`, then stops it.
    private func withEndpoint(
        idleTimeout: TimeAmount, maxConnections: Int, _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        let port = Locked<Int?>(nil)
        var endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, render: { Array("up 1\n".utf8) }, logger: Logger(label: "test"))
        endpoint.idleTimeout = idleTimeout
        endpoint.maxConnections = maxConnections
        endpoint.listening = { bound in port.withLock { $0 = bound } }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [endpoint] in try await endpoint.run() }
            try await waitUntil("the endpoint listening") { port.value != nil }
            do {
                try await body(port.value!)
            } catch {
                group.cancelAll()
                throw error
            }
            group.cancelAll()
        }
    }

    /// A raw TCP connection that sends nothing until told; `closed` completes when the server
    /// closes it.
    private func connect(_ port: Int) async throws -> any Channel {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
    }

    /// Whether the server closed the connection within `seconds`.
    private func closes(_ channel: any Channel, within seconds: Double) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if !channel.isActive { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !channel.isActive
    }

    private func scrape(_ port: Int) async throws -> Int {
        let (_, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        return (response as? HTTPURLResponse)?.statusCode ?? 0
    }

    @Test func aConnectionThatSendsNothingIsClosed() async throws {
        try await withEndpoint(idleTimeout: .milliseconds(300), maxConnections: 8) { port in
            let idle = try await connect(port)
            #expect(await closes(idle, within: 10))
            #expect(try await scrape(port) == 200)
        }
    }

    @Test func connectionsPastTheLimitAreClosedAndTheLimitFreesAsTheyGo() async throws {
        try await withEndpoint(idleTimeout: .seconds(60), maxConnections: 2) { port in
            // Accepted connections reach the endpoint from several event loops, in either order:
            // which of the three is turned away is not fixed, only that one is.
            let three = [try await connect(port), try await connect(port), try await connect(port)]
            try await waitUntil("one turned away", timeout: .seconds(10)) { three.filter { !$0.isActive }.count == 1 }
            try await Task.sleep(for: .milliseconds(200))
            let held = three.filter(\.isActive)
            #expect(held.count == 2, "the two admitted stay")
            // Full: a scrape is turned away. Once one closes, a scrape is answered.
            await #expect(throws: (any Error).self) { try await scrape(port) }
            try await held[0].close()
            try await waitUntil("a place freed", timeout: .seconds(10)) { (try? await scrape(port)) == 200 }
            try await held[1].close()
        }
    }
}
