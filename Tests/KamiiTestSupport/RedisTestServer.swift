import Foundation
import Synchronization
public import KamiiRedis

/// The redis-server `ops/test` starts (`KAMII_TEST_REDIS=host:port`). Without it the suites are
/// skipped, unless `ops/test` demands services, when a missing server fails them.
public enum RedisTestServer {
    public static var isConfigured: Bool {
        configuration != nil || ProcessInfo.processInfo.environment["KAMII_TEST_REQUIRE_SERVICES"] == "1"
    }

    public static let configuration: RedisConfiguration? = {
        guard let value = ProcessInfo.processInfo.environment["KAMII_TEST_REDIS"],
              let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...])
        else { return nil }
        return RedisConfiguration(host: String(value[..<colon]), port: port)
    }()

    public static func client(commandTimeout: Duration = .seconds(5)) throws -> RedisClient {
        guard var configuration else { throw MissingServer() }
        configuration.commandTimeout = commandTimeout
        return RedisClient(configuration: configuration)
    }

    /// A key prefix no other test uses, hash-tagged like Kamii's own keys.
    public static func uniqueKey(_ name: String) -> String {
        "{kamii-test-\(UInt64.random(in: 0...UInt64.max))}:\(name)"
    }

    struct MissingServer: Error, CustomStringConvertible {
        var description: String { "KAMII_TEST_REDIS is not set (ops/test sets it)" }
    }
}

/// Polls `condition` every 20 ms until it holds; throws when `timeout` passes first.
public func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !(try await condition()) {
        guard ContinuousClock.now < deadline else { throw WaitTimedOut(what: what) }
        try await Task.sleep(for: .milliseconds(20))
    }
}

public struct WaitTimedOut: Error, CustomStringConvertible {
    public let what: String
    public var description: String { "timed out waiting for \(what)" }
}

/// A value several tasks of a test share.
public final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    public init(_ value: Value) { mutex = Mutex(value) }

    public func withLock<Result>(_ body: (inout Value) -> Result) -> Result {
        mutex.withLock { body(&$0) }
    }

    public var value: Value { mutex.withLock { $0 } }
}
