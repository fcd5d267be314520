#if os(Linux)
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
        configuration.postgresKeepAlive.silenceLimit = .milliseconds(11_500)
        let expected = SocketKeepAlive(enabled: 1, idle: 7, interval: 3, probes: 2, userTimeoutMilliseconds: 11_500)
        let store = try KamiiStore(configuration)
        // Two connections at once; the server's side of each has the same limits.
        async let first = Self.serverKeepAlive(store)
        async let second = Self.serverKeepAlive(store)
        let server = try await [first, second]
        let sockets = SocketKeepAlive.ofSockets(connectedTo: port)
        try await store.close()
        #expect(sockets.filter { $0 == expected }.count == 2, "\(sockets)")
        #expect(server == Array(repeating: ["7", "3", "2", "11500"], count: 2))
    }

    /// The server's keepalive settings for the session `store` is given, read after a pause (so
    /// that two calls at once hold two connections).
    private static func serverKeepAlive(_ store: KamiiStore) async throws -> [String] {
        try await store.read { database in
            try await database.raw("""
                SELECT current_setting('tcp_keepalives_idle') AS i, current_setting('tcp_keepalives_interval') AS v,
                       current_setting('tcp_keepalives_count') AS c, current_setting('tcp_user_timeout') AS u, pg_sleep(0.3)
                """).first().map { row in try ["i", "v", "c", "u"].map { try row.decode(column: $0, as: String.self) } } ?? []
        }
    }

    @Test func waitsOnAVanishedHostEndAndTheStoreConnectsAgainWhenItIsBack() async throws {
        let url = try Self.url
        var components = try #require(URLComponents(string: url))
        let host: VanishingHost
        do {
            host = try await VanishingHost.make(forwardingTo: try #require(components.host), port: try #require(components.port))
        } catch let unavailable as VanishingHost.Unavailable {
            // A container without the capabilities: the settings are still read back from the sockets above.
            try Test.cancel("\(unavailable)")
        }
        components.host = host.address
        components.port = host.port
        let hostURL = try #require(components.string)
        func store(idle: Duration, silenceLimit: Duration) throws -> KamiiStore {
            var configuration = StoreConfiguration(engine: .postgres(url: hostURL, searchPath: nil), maxConnections: 1)
            configuration.postgresKeepAlive.idle = idle
            configuration.postgresKeepAlive.interval = .seconds(1)
            configuration.postgresKeepAlive.silenceLimit = silenceLimit
            return try KamiiStore(configuration)
        }
        // Probed after a second of silence; and one probed only after ten minutes, so that the
        // limit on unacknowledged data alone must end its wait.
        let probing = try store(idle: .seconds(1), silenceLimit: .seconds(3))
        let unprobed = try store(idle: .seconds(600), silenceLimit: .seconds(3))
        do {
            let probingAnswers = try await Self.answers(probing)
            let unprobedAnswers = try await Self.answers(unprobed)
            #expect(probingAnswers && unprobedAnswers, "both reached through the host")

            // A statement under way when the host goes: its reply never comes, and nothing closes
            // the connection; the keepalive probes go unanswered and end it.
            let waiting = Task { try await probing.read { try await $0.raw("SELECT pg_sleep(40)").run() } }
            try await Task.sleep(for: .milliseconds(500))
            try await host.vanish()
            #expect(await Self.outcome(of: waiting, within: .seconds(25)) == .failed, "the wait for the vanished host's reply ended in an error")

            // A statement sent on a connection kept from before: the kernel retransmits it unanswered
            // (no probe goes while data waits for its acknowledgement) until the limit ends it.
            let sent = Task { try await unprobed.read { try await $0.raw("SELECT 1").run() } }
            #expect(await Self.outcome(of: sent, within: .seconds(25)) == .failed, "a statement sent to the vanished host failed")

            try await host.reappear()
            for store in [probing, unprobed] {
                try await waitUntil("the store answers once the host is back", timeout: .seconds(30)) { try await Self.answers(store) }
            }
        } catch {
            try? await probing.close()
            try? await unprobed.close()
            await host.remove()
            throw error
        }
        try await probing.close()
        try await unprobed.close()
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

#endif

/// Keepalive settings the kernel would refuse (or round to nothing) stop the store from opening.
struct PostgresKeepAliveSettingsTests {
    @Test(arguments: ["idle", "interval", "silenceLimit"])
    func outOfRangeSettingsAreRefused(_ setting: String) throws {
        var configuration = StoreConfiguration(engine: .postgres(url: "postgres://kamii@127.0.0.1:1/kamii", searchPath: nil))
        try configuration.validate()
        switch setting {
        case "idle": configuration.postgresKeepAlive.idle = .milliseconds(500)
        case "interval": configuration.postgresKeepAlive.interval = .seconds(40_000)
        default: configuration.postgresKeepAlive.silenceLimit = .zero
        }
        let error = #expect(throws: StoreError.self) { try configuration.validate() }
        #expect(error?.kind == .misconfigured && error?.detail.hasPrefix("postgresKeepAlive.\(setting) ") == true, "\(String(describing: error))")
    }
}
