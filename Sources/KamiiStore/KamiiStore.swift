public import Logging
import SQLKit

/// Kamii's SQL storage: guild configuration, message templates, per-user stats (`server_users`),
/// punishments, tickets and the panel audit log, on SQLite or PostgreSQL through one query layer.
///
/// Every value reaches the database as a bound parameter. Writes that must agree with each other
/// (a config change and its audit row, a case and its number) happen in one transaction.
///
/// A `database` error from a write means the outcome is unknown when the connection died during
/// COMMIT: callers must not blindly repeat a write that allocates a number (a case, a ticket).
public final class KamiiStore: Sendable {
    /// The SQL engine behind the store.
    public enum Dialect: Sendable { case sqlite, postgres }

    /// How the store was opened.
    public let configuration: StoreConfiguration
    /// The engine, for the few statements whose syntax differs.
    public let dialect: Dialect
    let logger: Logger
    private let pool: ConnectionPool
    /// SQLite takes one writer at a time; this process's writers to the file queue here (nil on PostgreSQL).
    private let writeGate: WriteGate?

    /// Opens the pool. Call ``prepare()`` (or ``migrate()``) before using the store.
    public init(_ configuration: StoreConfiguration, logger: Logger = Logger(label: "kamii.store")) throws(StoreError) {
        try configuration.validate()
        self.configuration = configuration
        self.logger = logger
        pool = try ConnectionPool.make(configuration, logger: logger)
        switch configuration.engine {
        case .sqlite(let path):
            dialect = .sqlite
            writeGate = WriteGate.forFile(path)
        case .postgres:
            dialect = .postgres
            writeGate = nil
        }
    }

    /// Closes every pooled connection.
    public func close() async throws {
        try await pool.shutdown()
    }

    deinit {
        // A store let go without `close()` (a caller that threw half-way, a cancelled task) would
        // keep its connections open, and AsyncKit's pool asserts that it was closed (a crash in a
        // debug build) and prunes through an unowned reference to itself. Closed here instead; a
        // no-op after `close()`.
        pool.closeUnawaited()
    }

    /// Runs single read-only statements on one pooled connection.
    func read<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws(StoreError) -> Result {
        do {
            return try await pool.withConnection(body)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs several reads that must see one consistent state (an export), without blocking writers:
    /// a deferred transaction on SQLite (WAL gives it a snapshot), REPEATABLE READ on PostgreSQL.
    func snapshot<Result: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> Result) async throws(StoreError) -> Result {
        let begin = dialect == .sqlite ? "BEGIN DEFERRED" : "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
        do {
            return try await pool.withTransaction(begin: begin, body)
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Runs `body` in one write transaction: committed if it returns, rolled back if it throws.
    ///
    /// Bodies that read a row and then write depending on it lock that row first (`forUpdate` in
    /// their SELECT): PostgreSQL's READ COMMITTED does not, SQLite's write lock already does.
    func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws(StoreError) -> Result {
        if let writeGate { await writeGate.enter() }
        let outcome: Swift.Result<Result, StoreError>
        do {
            outcome = .success(try await pool.withTransaction(begin: dialect == .sqlite ? "BEGIN IMMEDIATE" : "BEGIN", body))
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
