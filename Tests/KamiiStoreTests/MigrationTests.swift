import Foundation
import Testing
@testable import KamiiStore

@Suite struct MigrationTests {
    @Test(arguments: TestEngine.available)
    func migratingTwiceAppliesNothingTheSecondTime(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            #expect(try await store.schemaVersion() == KamiiStore.latestSchemaVersion)
            #expect(try await store.migrate() == [])
            try await store.requireCurrentSchema()
        }
    }

    @Test(arguments: TestEngine.available)
    func aNewerDatabaseIsRefused(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let future = KamiiStore.latestSchemaVersion + 1
            try await store.transaction {
                try await $0.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: future), 'from the future', 0)").run()
            }
            await expectStoreError(.schemaTooNew) { try await store.migrate() }
            await expectStoreError(.schemaTooNew) { try await store.requireCurrentSchema() }
        }
    }

    @Test(arguments: TestEngine.available)
    func concurrentMigratorsApplyEachVersionOnce(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            // A second and third store on the same database, racing to migrate it again from scratch.
            try await store.transaction { database in
                for table in ["punishment_reason_history", "punishments", "tickets", "message_templates", "server_users",
                              "guild_counters", "panel_audit", "guild_config", "schema_migrations"] {
                    try await database.raw("DROP TABLE \(ident: table)").run()
                }
            }
            #expect(try await store.schemaVersion() == 0)
            let others = [try KamiiStore(store.configuration), try KamiiStore(store.configuration)]
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for other in others { group.addTask { try await other.migrate() } }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            for other in others { try await other.close() }
            // Each version once, by one migrator or the other (they take turns version by version,
            // and their lists come back in the order they finished).
            #expect(applied.sorted() == Array(1...KamiiStore.latestSchemaVersion))
            #expect(try await store.schemaVersion() == KamiiStore.latestSchemaVersion)
        }
    }

    @Test func prepareMigratesOnlyWhenConfiguredTo() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let checking = try KamiiStore(StoreConfiguration(engine: .sqlite(path: path), migrateOnStart: false))
        await expectStoreError(.misconfigured) { try await checking.prepare() }
        try await checking.close()
        let migrating = try KamiiStore(StoreConfiguration(engine: .sqlite(path: path)))
        try await migrating.prepare()
        #expect(try await migrating.schemaVersion() == KamiiStore.latestSchemaVersion)
        try await migrating.close()
    }

    @Test func databaseURLsAreRead() throws {
        #expect(try StoreConfiguration(url: "sqlite:kamii.sqlite").engine == .sqlite(path: "kamii.sqlite"))
        #expect(try StoreConfiguration(url: "sqlite:///var/lib/kamii.sqlite").engine == .sqlite(path: "/var/lib/kamii.sqlite"))
        #expect(try StoreConfiguration(url: "postgres://kamii@db:5432/kamii").engine == .postgres(url: "postgres://kamii@db:5432/kamii", searchPath: nil))
        #expect(throws: StoreError.self) { try StoreConfiguration(url: "mysql://x") }
        #expect(throws: StoreError.self) { try StoreConfiguration(url: "sqlite:") }
        // One in-memory database per pooled connection: the schema would be missing on the next.
        #expect(throws: StoreError.self) { try StoreConfiguration(url: "sqlite::memory:") }
    }

    @Test func theDatabasePasswordIsNeverPrinted() throws {
        let configuration = try StoreConfiguration(url: "postgres://kamii:hunter2@db:5432/kamii")
        #expect(configuration.description == "postgres://kamii:%3Credacted%3E@db:5432/kamii" || configuration.description == "postgres://kamii:<redacted>@db:5432/kamii")
        #expect(!"\(configuration.engine)".contains("hunter2"), "the engine printed alone")
        #expect(!"\(configuration)".contains("hunter2"))
    }

    /// A PostgreSQL that refuses says why — PostgresNIO's own description of its error is a fixed
    /// text that names nothing — and the password stays out of it.
    @Test(.enabled(if: TestEngine.available.contains(.postgres)))
    func aRefusingPostgreSQLSaysWhy() async throws {
        let url = try #require(TestEngine.postgresURL)
        var missing = try #require(URLComponents(string: url))
        missing.path = "/kamii_missing_\(UInt32.random(in: 0...UInt32.max))"
        missing.password = "hunter2secret"
        let store = try KamiiStore(StoreConfiguration(url: try #require(missing.string)))
        do {
            _ = try await store.schemaVersion()
            Issue.record("a database that does not exist answered")
        } catch {
            #expect(error.description.contains("does not exist") && error.description.contains("SQLSTATE 3D000"), "\(error)")
            #expect(!error.description.contains("hunter2secret"))
        }
        try await store.close()
    }
}
