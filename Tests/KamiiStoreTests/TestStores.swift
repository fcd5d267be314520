import DiscordModels
import Foundation
import Logging
import Testing
@testable import KamiiStore

/// The engines every storage test runs on: SQLite always; PostgreSQL when `ops/test` (or the
/// developer) gives a server in `KAMII_TEST_POSTGRES_URL`. Under `ops/test`, a missing server is
/// a failure, not a skip.
enum TestEngine: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres

    var testDescription: String { rawValue }

    static var postgresURL: String? { ProcessInfo.processInfo.environment["KAMII_TEST_POSTGRES_URL"] }
    static var servicesRequired: Bool { ProcessInfo.processInfo.environment["KAMII_TEST_REQUIRE_SERVICES"] == "1" }

    static let available: [TestEngine] = postgresURL != nil || servicesRequired ? [.sqlite, .postgres] : [.sqlite]
}

/// A fresh, migrated store on `engine` for the length of `body`: a temp SQLite file, or a
/// PostgreSQL schema of its own (dropped afterwards).
func withStore<Result>(
    _ engine: TestEngine, maxConnections: Int = 4, batchRows: Int = 1_000, _ body: (KamiiStore) async throws -> Result
) async throws -> Result {
    let configuration: StoreConfiguration
    var cleanup: () async throws -> Void
    switch engine {
    case .sqlite:
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).sqlite").path
        configuration = StoreConfiguration(engine: .sqlite(path: path), maxConnections: maxConnections, batchRows: batchRows)
        cleanup = {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
    case .postgres:
        let url = try #require(TestEngine.postgresURL, "KAMII_TEST_POSTGRES_URL is not set")
        let schema = "kamii_test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased())"
        let admin = try KamiiStore(StoreConfiguration(engine: .postgres(url: url, searchPath: nil), maxConnections: 1))
        try await admin.transaction { try await $0.raw("CREATE SCHEMA \(ident: schema)").run() }
        configuration = StoreConfiguration(engine: .postgres(url: url, searchPath: [schema]), maxConnections: maxConnections, batchRows: batchRows)
        cleanup = {
            try await admin.transaction { try await $0.raw("DROP SCHEMA \(ident: schema) CASCADE").run() }
            try await admin.close()
        }
    }
    let store = try KamiiStore(configuration, logger: Logger(label: "kamii.store.test"))
    do {
        try await store.migrate()
        let result = try await body(store)
        try await store.close()
        try await cleanup()
        return result
    } catch {
        try? await store.close()
        try? await cleanup()
        throw error
    }
}

/// IDs for tests.
enum IDs {
    static func guild(_ n: UInt64) -> GuildID { GuildID(unixMilliseconds: 1_600_000_000_000 + n, increment: n) }
    static func user(_ n: UInt64) -> UserID { UserID(unixMilliseconds: 1_500_000_000_000 + n, increment: n % 4096) }
    static func channel(_ n: UInt64) -> ChannelID { ChannelID(unixMilliseconds: 1_650_000_000_000 + n) }
    static func role(_ n: UInt64) -> RoleID { RoleID(unixMilliseconds: 1_660_000_000_000 + n) }
    static let time = Date(unixMilliseconds: 1_795_000_000_000)
}

/// Asserts that `body` throws a `StoreError` of `kind`.
func expectStoreError<R>(
    _ kind: StoreError.Kind, because situation: String = "", sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> R
) async {
    do {
        _ = try await body()
        Issue.record("\(situation): expected a \(kind) error, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.kind == kind, "\(situation): \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a StoreError, got \(error)", sourceLocation: sourceLocation)
    }
}
