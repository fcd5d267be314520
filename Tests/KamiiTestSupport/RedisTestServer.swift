import Foundation
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
