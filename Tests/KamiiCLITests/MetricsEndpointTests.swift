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
        idleTimeout: TimeAmount, maxConnections: Int, failingTakes: Int = 0, _ body: @Sendable (Int) async throws -> Void
    ) async throws {
        var endpoint = MetricsEndpoint(host: "127.0.0.1", port: 0, render: { Array("up 1\n".utf8) }, logger: Logger(label: "test"))
        endpoint.idleTimeout = idleTimeout
        endpoint.maxConnections = maxConnections
        endpoint.failingTakes = failingTakes
        let bound = try await endpoint.bind()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await bound.run() }
            do {
                try await body(bound.port)
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

    /// Taking connections that fails (out of file descriptors) does not end the service — which
    /// would stop the whole bot: the endpoint is bound again on its port and serves.
    @Test func aFailureToTakeConnectionsIsServedAgain() async throws {
        // A scrape that connects while a failing listener is open is taken in by NIO and dropped
        // with it: only its idle timer closes it (then the scraper tries again). A short one keeps
        // this test from waiting a minute on such a scrape.
        try await withEndpoint(idleTimeout: .seconds(1), maxConnections: 8, failingTakes: 2) { port in
            var status = 0
            for _ in 0..<100 where status != 200 {
                status = (try? await scrape(port)) ?? 0
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 200, "served again after two failures")
        }
    }

    @Test func aConnectionThatSendsNothingIsClosed() async throws {
        try await withEndpoint(idleTimeout: .milliseconds(300), maxConnections: 8) { port in
            let idle = try await connect(port)
            #expect(await closes(idle, within: 10))
            #expect(try await scrape(port) == 200)
        }
    }

    @Test func pastTheLimitTheQuietestConnectionMakesRoomForAScrape() async throws {
        try await withEndpoint(idleTimeout: .seconds(60), maxConnections: 2) { port in
            // Both places held: one connection silent, one trickling a request head a byte at a
            // time (no request part is ever complete, so the idle timeout alone never frees it).
            let silent = try await connect(port)
            let trickling = try await connect(port)
            let trickle = Task {
                for byte in "GET /metrics HTTP/1.1\r\nX-Slow: ".utf8 + Array(repeating: UInt8(ascii: "a"), count: 10_000) {
                    guard trickling.isActive, !Task.isCancelled else { return }
                    try? await trickling.writeAndFlush(ByteBuffer(bytes: [byte]))
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            defer { trickle.cancel() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(silent.isActive && trickling.isActive, "both admitted")
            // A scrape is answered: one of the two (whichever the endpoint took in first; both are
            // quiet since) is closed for it.
            #expect(try await scrape(port) == 200)
            try await waitUntil("one closed for the scrape", timeout: .seconds(10)) { !silent.isActive || !trickling.isActive }
            // The other completed nothing since it was accepted; a client that sends a whole
            // request did since: newcomers close it, and the scraper's, before that client.
            let asker = try await connect(port)
            try await asker.writeAndFlush(ByteBuffer(string: "GET /metrics HTTP/1.1\r\nHost: kamii\r\n\r\n"))
            try await Task.sleep(for: .milliseconds(300))
            let newcomer = try await connect(port)
            #expect(await closes(silent, within: 10))
            #expect(await closes(trickling, within: 10))
            #expect(asker.isActive && newcomer.isActive)
            try await asker.close()
            try await newcomer.close()
        }
    }
}
