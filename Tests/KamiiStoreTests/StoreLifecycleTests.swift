import Foundation
import SQLKit
import Testing
@testable import KamiiStore

/// A store let go without `close()` — a caller that threw half-way — closes its connections
/// itself, rather than leaving them open (or, in a debug build, tripping AsyncKit's assertion
/// that its pool was closed, which ends the whole process).
@Suite struct StoreLifecycleTests {
    @Test(arguments: TestEngine.available)
    func aStoreLetGoWithoutCloseClosesItsConnections(_ engine: TestEngine) async throws {
        try await withStore(engine, maxConnections: 1) { store in
            let before = try await Self.serverConnections(store)
            for _ in 0..<3 {
                let dropped = try KamiiStore(store.configuration)
                #expect(try await dropped.schemaVersion() == KamiiStore.latestSchemaVersion)
            }
            guard engine == .postgres else { return }
            // The server sees the three connections go (closing takes a hop to the pool's event loop).
            var now = try await Self.serverConnections(store)
            for _ in 0..<100 where now != before {
                try await Task.sleep(for: .milliseconds(50))
                now = try await Self.serverConnections(store)
            }
            #expect(now == before)
        }
    }

    /// PostgreSQL ends a statement that runs too long, or waits too long for a lock, with an error
    /// instead of letting it (and every checkpoint queued behind it) wait for ever; a migration
    /// lifts both for its own transaction.
    @Test(.enabled(if: TestEngine.available.contains(.postgres)))
    func postgresStatementsEndAtTheirTimeouts() async throws {
        try await withStore(.postgres) { store in
            var configuration = store.configuration
            configuration.postgresStatementTimeout = .milliseconds(300)
            configuration.postgresLockTimeout = .milliseconds(200)
            let limited = try KamiiStore(configuration)
            let settings = try await limited.read { database in
                try await database.raw("SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('idle_in_transaction_session_timeout') AS i")
                    .first().map { [try $0.decode(column: "s", as: String.self), try $0.decode(column: "l", as: String.self), try $0.decode(column: "i", as: String.self)] }
            }
            #expect(settings == ["300ms", "200ms", "5min"])
            await expectStoreError(.database, because: "a statement past its timeout") {
                try await limited.read { database in try await database.raw("SELECT pg_sleep(5)").run() }
            }
            // A row held by another session (an operator's forgotten transaction): the wait ends.
            let holding = Task {
                try await store.transaction { database in
                    try await database.raw("SELECT pg_advisory_xact_lock(424242)").run()
                    try await Task.sleep(for: .seconds(2))
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            await expectStoreError(.database, because: "a lock wait past its timeout") {
                try await limited.read { database in try await database.raw("SELECT pg_advisory_lock(424242)").run() }
            }
            try await holding.value
            #expect(try await limited.migrate().isEmpty, "a migration runs within the limits it lifts")
            // A privacy export or deletion lifts the statement limit for its transaction.
            try await limited.transaction { database in
                try await StoreSupport.withoutStatementLimit(database)
                try await database.raw("SELECT pg_sleep(0.5)").run()
            }
            // And in the read-only snapshot an export reads from.
            try await limited.snapshot { database in
                try await StoreSupport.withoutStatementLimit(database)
                try await database.raw("SELECT pg_sleep(0.5)").run()
            }
            try await limited.close()
        }
    }

    /// PostgreSQL's count of client connections to this database (0 on SQLite).
    static func serverConnections(_ store: KamiiStore) async throws -> Int {
        guard store.dialect == .postgres else { return 0 }
        return try await store.read { database in
            try await database.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
                .first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }
}
