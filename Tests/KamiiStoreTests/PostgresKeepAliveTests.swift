import Foundation
import KamiiTestSupport
import SQLKit
import Testing
@testable import KamiiStore
#if canImport(Glibc)
import Glibc
#endif

/// A PostgreSQL server whose host vanishes without closing the connection (a failover moving its
/// address, a machine lost) ends what waits on it with an error, instead of holding it — and the
/// checkpoints and guild loads queued behind it — for ever; once the host is back, the store
/// connects again.
@Suite(.serialized, .enabled(if: TestEngine.available.contains(.postgres)))
struct PostgresKeepAliveTests {
    private static var url: String { get throws { try #require(TestEngine.postgresURL, "KAMII_TEST_POSTGRES_URL is not set") } }

    @Test func everyConnectionCarriesTheKeepAliveSettings() async throws {
        let url = try Self.url
        let port = try #require(URLComponents(string: url)?.port)
        var configuration = StoreConfiguration(engine: .postgres(url: url, searchPath: nil), maxConnections: 2)
        // Values no other store of the test run uses, so its sockets are told from theirs.
        configuration.postgresKeepAlive.idle = .seconds(7)
        configuration.postgresKeepAlive.interval = .seconds(3)
        configuration.postgresKeepAlive.probes = 4
        configuration.postgresKeepAlive.unacknowledgedLimit = .milliseconds(11_500)
        let expected = SocketKeepAlive(enabled: 1, idle: 7, interval: 3, probes: 4, userTimeoutMilliseconds: 11_500)
        let store = try KamiiStore(configuration)
        // Two connections at once.
        async let first: Void = store.read { try await $0.raw("SELECT pg_sleep(0.3)").run() }
        async let second: Void = store.read { try await $0.raw("SELECT pg_sleep(0.3)").run() }
        _ = try await (first, second)
        let sockets = SocketKeepAlive.ofSockets(connectedTo: port)
        try await store.close()
        #expect(sockets.filter { $0 == expected }.count == 2, "\(sockets)")
    }

    @Test func aWaitOnAVanishedHostEndsAndTheStoreConnectsAgainWhenItIsBack() async throws {
        let url = try Self.url
        var components = try #require(URLComponents(string: url))
        let host = try await VanishingHost.make(forwardingTo: try #require(components.host), port: try #require(components.port))
        do {
            components.host = host.address
            components.port = host.port
            var configuration = StoreConfiguration(engine: .postgres(url: try #require(components.string), searchPath: nil), maxConnections: 1)
            configuration.postgresKeepAlive.idle = .seconds(1)
            configuration.postgresKeepAlive.interval = .seconds(1)
            configuration.postgresKeepAlive.probes = 2
            configuration.postgresKeepAlive.unacknowledgedLimit = .seconds(3)
            let store = try KamiiStore(configuration)
            #expect(try await Self.answers(store), "reached through the host")

            // A statement under way when the host goes: its reply never comes, and nothing closes
            // the connection; the keepalive probes go unanswered and end it.
            let waiting = Task { try await store.read { try await $0.raw("SELECT pg_sleep(40)").run() } }
            try await Task.sleep(for: .milliseconds(500))
            try await host.vanish()
            let ended = await Self.outcome(of: waiting, within: .seconds(25))
            #expect(ended == .failed, "the wait for the vanished host's reply ended in an error")

            // A statement sent to the vanished host (the pool connects again, or sends on a
            // connection it kept): an error too, not a wait.
            let sent = Task { try await store.read { try await $0.raw("SELECT 1").run() } }
            #expect(await Self.outcome(of: sent, within: .seconds(25)) == .failed, "a statement sent to the vanished host failed")

            try await host.reappear()
            try await waitUntil("the store answers once the host is back", timeout: .seconds(30)) { try await Self.answers(store) }
            try await store.close()
        } catch {
            await host.remove()
            throw error
        }
        await host.remove()
    }

    private static func answers(_ store: KamiiStore) async throws -> Bool {
        (try? await store.read { try await $0.raw("SELECT 1 AS one").first().map { try $0.decode(column: "one", as: Int.self) } }) == 1
    }

    private enum Outcome: Equatable { case succeeded, failed, stillWaiting }

    /// How `task` ended, or `.stillWaiting` if it had not within `limit` (it is then left running:
    /// a hanging call cannot be cancelled).
    private static func outcome(of task: Task<Void, any Error>, within limit: Duration) async -> Outcome {
        let deadline = ContinuousClock.now + limit
        let result = Locked<Outcome?>(nil)
        Task {
            let outcome: Outcome = switch await task.result {
            case .success: .succeeded
            case .failure: .failed
            }
            result.withLock { $0 = outcome }
        }
        while ContinuousClock.now < deadline {
            if let outcome = result.value { return outcome }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return result.value ?? .stillWaiting
    }
}

/// The TCP keepalive settings of a socket, as the kernel reports them.
struct SocketKeepAlive: Equatable, CustomStringConvertible {
    var enabled: CInt
    var idle: CInt
    var interval: CInt
    var probes: CInt
    var userTimeoutMilliseconds: CInt

    var description: String { "keepalive \(enabled) idle \(idle) s interval \(interval) s probes \(probes) user timeout \(userTimeoutMilliseconds) ms" }

    /// Those of every TCP socket of this process connected to `port`.
    static func ofSockets(connectedTo port: Int) -> [SocketKeepAlive] {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map { $0.compactMap { CInt($0) } } ?? []
        return descriptors.compactMap { fd in
            guard peerPort(fd) == port else { return nil }
            func option(_ level: CInt, _ name: CInt) -> CInt {
                var value: CInt = -1
                var length = socklen_t(MemoryLayout<CInt>.size)
                return getsockopt(fd, level, name, &value, &length) == 0 ? value : -1
            }
            let tcp = CInt(IPPROTO_TCP)
            return SocketKeepAlive(
                enabled: option(SOL_SOCKET, SO_KEEPALIVE), idle: option(tcp, TCP_KEEPIDLE), interval: option(tcp, TCP_KEEPINTVL),
                probes: option(tcp, TCP_KEEPCNT), userTimeoutMilliseconds: option(tcp, TCP_USER_TIMEOUT)
            )
        }
    }

    /// The peer's port of a connected IPv4 or IPv6 socket, nil for anything else.
    private static func peerPort(_ fd: CInt) -> Int? {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let read = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        }
        guard read == 0 else { return nil }
        switch CInt(address.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) } }
        case AF_INET6:
            return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) } }
        default:
            return nil
        }
    }
}

/// Keepalive settings the kernel would refuse (or round to nothing) stop the store from opening.
struct PostgresKeepAliveSettingsTests {
    @Test(arguments: ["idle", "interval", "probes", "unacknowledgedLimit"])
    func outOfRangeSettingsAreRefused(_ setting: String) throws {
        var configuration = StoreConfiguration(engine: .postgres(url: "postgres://kamii@127.0.0.1:1/kamii", searchPath: nil))
        try configuration.validate()
        switch setting {
        case "idle": configuration.postgresKeepAlive.idle = .milliseconds(500)
        case "interval": configuration.postgresKeepAlive.interval = .seconds(40_000)
        case "probes": configuration.postgresKeepAlive.probes = 0
        default: configuration.postgresKeepAlive.unacknowledgedLimit = .zero
        }
        let error = #expect(throws: StoreError.self) { try configuration.validate() }
        #expect(error?.kind == .misconfigured && error?.detail.hasPrefix("postgresKeepAlive.\(setting) ") == true, "\(String(describing: error))")
    }
}
