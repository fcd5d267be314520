import Foundation
import SQLKit

extension KamiiStore {
    /// The newest schema version this binary knows.
    public static var latestSchemaVersion: Int { Migration.all.last?.version ?? 0 }

    /// The version the database is at (0 for an empty database).
    public func schemaVersion() async throws(StoreError) -> Int {
        try await read { database in try await Self.appliedVersion(database) }
    }

    /// Brings the schema up to ``latestSchemaVersion``, one transaction per migration.
    ///
    /// Safe to run from several processes at once: on PostgreSQL an advisory lock, on SQLite the
    /// write lock, makes the others wait and then find nothing left to do.
    /// - Returns: the versions applied by this call.
    /// - Throws: ``StoreError/Kind/schemaTooNew`` when the database was migrated by a newer Kamii.
    @discardableResult
    public func migrate() async throws(StoreError) -> [Int] {
        var applied: [Int] = []
        for migration in Migration.all {
            let dialect = dialect
            let didApply = try await transaction { database in
                if dialect == .postgres {
                    // A migration may rightly take long (an index over a large table), and wait long
                    // for another migrator: the connection's limits are lifted for this transaction.
                    try await database.raw("SET LOCAL statement_timeout = 0").run()
                    try await database.raw("SET LOCAL lock_timeout = 0").run()
                    // Serialises concurrent migrators until this transaction ends.
                    try await database.raw("SELECT pg_advisory_xact_lock(\(bind: Int64(0x4B41_4D49)))").run()
                }
                try await database.raw("""
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL
                    )
                    """).run()
                let current = try await Self.appliedVersion(database)
                guard current <= Self.latestSchemaVersion else { throw Self.tooNew(current) }
                guard current < migration.version else { return false }
                for statement in migration.statements(dialect) {
                    try await database.raw(SQLQueryString(statement)).run()
                }
                try await database.raw("""
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Date().unixMilliseconds))
                    """).run()
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("applied schema migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        let version = try await schemaVersion()
        guard version <= Self.latestSchemaVersion else { throw Self.tooNew(version) }
        return applied
    }

    /// What a starting process calls: migrates when ``StoreConfiguration/migrateOnStart`` is set,
    /// otherwise only checks that the schema is current.
    public func prepare() async throws(StoreError) {
        if configuration.migrateOnStart {
            try await migrate()
        } else {
            try await requireCurrentSchema()
        }
    }

    /// Fails unless the database is exactly at ``latestSchemaVersion`` — for processes that use
    /// the store without migrating it.
    public func requireCurrentSchema() async throws(StoreError) {
        let version = try await schemaVersion()
        guard version <= Self.latestSchemaVersion else { throw Self.tooNew(version) }
        guard version == Self.latestSchemaVersion else {
            throw StoreError(.misconfigured, "the database is at schema version \(version), this binary needs \(Self.latestSchemaVersion): run `kamii migrate`")
        }
    }

    static func appliedVersion(_ database: any SQLDatabase) async throws -> Int {
        let exists = try await database.raw(tableExistsQuery(database)).first() != nil
        guard exists else { return 0 }
        let row = try await database.raw("SELECT COALESCE(MAX(version), 0) AS version FROM schema_migrations").first()
        return try row?.decode(column: "version", as: Int.self) ?? 0
    }

    private static func tableExistsQuery(_ database: any SQLDatabase) -> SQLQueryString {
        database.dialect.name == "sqlite"
            ? "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
            : "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations'"
    }

    private static func tooNew(_ version: Int) -> StoreError {
        StoreError(.schemaTooNew, "the database is at schema version \(version) but this binary knows only up to \(latestSchemaVersion); upgrade Kamii instead of running an older binary against it")
    }
}
