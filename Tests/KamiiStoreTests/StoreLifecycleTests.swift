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

    /// PostgreSQL's count of client connections to this database (0 on SQLite).
    static func serverConnections(_ store: KamiiStore) async throws -> Int {
        guard store.dialect == .postgres else { return 0 }
        return try await store.read { database in
            try await database.raw("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'")
                .first()?.decode(column: "n", as: Int.self) ?? -1
        }
    }
}
