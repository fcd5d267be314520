public import Logging
import SQLKit

/// Kamii's SQL storage: guild configuration, message templates, per-user stats (`server_users`),
/// punishments, tickets and the panel audit log, on SQLite or PostgreSQL through one query layer.
///
/// Every value reaches the database as a bound parameter. Writes that must agree with each other
/// (a config change and its audit row, a case and its number) happen in one transaction.
public final class KamiiStore: Sendable {
    public enum Dialect: Sendable { case sqlite, postgres }

    public let configuration: StoreConfiguration
    public let dialect: Dialect
    let logger: Logger
    private let pool: ConnectionPool
    /// SQLite takes one writer at a time; this process's writers queue here (nil on PostgreSQL).
    private let writeGate: WriteGate?

    /// Opens the pool. Call ``migrate()`` (or check ``schemaVersion()``) before using the store.
    public init(_ configuration: StoreConfiguration, logger: Logger = Logger(label: "kamii.store")) throws(StoreError) {
        self.configuration = configuration
        self.logger = logger
        pool = try ConnectionPool.make(configuration, logger: logger)
        switch configuration.engine {
        case .sqlite:
            dialect = .sqlite
            writeGate = WriteGate()
        case .postgres:
            dialect = .postgres
            writeGate = nil
        }
    }

    /// Closes every pooled connection.
    public func close() async throws {
        try await pool.shutdown()
    }

    /// Runs read-only queries on one pooled connection.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws(StoreError) -> Result {
        do {
            return try await pool.withConnection(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` in one transaction: committed if it returns, rolled back if it throws.
    func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws(StoreError) -> Result {
        if let writeGate { await writeGate.enter() }
        let begin = dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN"
        let outcome: Swift.Result<Result, StoreError>
        do {
            outcome = .success(try await pool.withConnection { database in
                try await database.raw(SQLQueryString(begin)).run()
                do {
                    let result = try await body(database)
                    try await database.raw("COMMIT").run()
                    return result
                } catch {
                    try? await database.raw("ROLLBACK").run()
                    throw error
                }
            })
        } catch {
            outcome = .failure(Self.storeError(error))
        }
        if let writeGate { await writeGate.leave() }
        return try outcome.get()
    }

    static func storeError(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        return StoreError(.database, "the query failed", underlying: error)
    }
}
