@preconcurrency import AsyncKit
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The pooled connections of one engine, handing out one connection at a time as an `SQLDatabase`
/// and running transactions on it.
///
/// `@unchecked`: AsyncKit's pool hops to its own event loop for every call and is used from any
/// thread by Vapor and Fluent, but predates `Sendable` annotations.
enum ConnectionPool: @unchecked Sendable {
    case sqlite(EventLoopConnectionPool<SQLiteSource>)
    case postgres(EventLoopConnectionPool<KeepAlivePostgresSource>)

    /// A pool of at most `configuration.maxConnections` connections.
    static func make(_ configuration: StoreConfiguration, logger: Logger) throws(StoreError) -> ConnectionPool {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        switch configuration.engine {
        case .sqlite(let path):
            let source = SQLiteSource(path: path, busyTimeoutMilliseconds: configuration.sqliteBusyTimeoutMilliseconds)
            return .sqlite(EventLoopConnectionPool(source: source, maxConnections: configuration.maxConnections, logger: logger, on: loop))
        case .postgres(let url, let searchPath):
            var sqlConfiguration: SQLPostgresConfiguration
            do {
                sqlConfiguration = try SQLPostgresConfiguration(url: url)
            } catch {
                // PostgresKit's error carries the URL, password included: say what is wrong without it.
                throw StoreError(.misconfigured, "cannot read the PostgreSQL URL (expected postgres://user:password@host:port/database)")
            }
            sqlConfiguration.searchPath = searchPath
            // Sent with the connection's start-up: every session has them, whoever opened it.
            func milliseconds(_ limit: Duration) -> String { String(Int(limit / .milliseconds(1))) }
            sqlConfiguration.coreConfiguration.options.additionalStartupParameters += [
                ("statement_timeout", milliseconds(configuration.postgresStatementTimeout)),
                ("lock_timeout", milliseconds(configuration.postgresLockTimeout)),
                ("idle_in_transaction_session_timeout", milliseconds(configuration.postgresIdleTransactionTimeout)),
            ] + configuration.postgresKeepAlive.serverParameters
            let source = KeepAlivePostgresSource(sqlConfiguration: sqlConfiguration, keepAlive: configuration.postgresKeepAlive)
            return .postgres(EventLoopConnectionPool(source: source, maxConnections: configuration.maxConnections, logger: logger, on: loop))
        }
    }

    /// Runs `body` on one pooled connection; everything it does happens in one session.
    func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        switch self {
        case .sqlite(let pool):
            try await pool.withConnection { connection in
                connection.eventLoop.makeFutureWithTask { try await body(connection.sql(queryLogLevel: nil)) }
            }.get()
        case .postgres(let pool):
            try await pool.withConnection { connection in
                connection.eventLoop.makeFutureWithTask { try await body(connection.sql(queryLogLevel: nil)) }
            }.get()
        }
    }

    /// Runs `body` between `begin` and COMMIT on one connection, rolling back if it throws. A
    /// connection whose ROLLBACK fails is closed, so the pool never hands out one still inside a
    /// transaction.
    func withTransaction<Result: Sendable>(
        begin: String, _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        switch self {
        case .sqlite(let pool):
            try await pool.withConnection { connection in
                connection.eventLoop.makeFutureWithTask {
                    try await Self.transaction(connection.sql(queryLogLevel: nil), begin: begin, body, abandon: { try await connection.close() })
                }
            }.get()
        case .postgres(let pool):
            try await pool.withConnection { connection in
                connection.eventLoop.makeFutureWithTask {
                    try await Self.transaction(connection.sql(queryLogLevel: nil), begin: begin, body, abandon: { try await connection.close() })
                }
            }.get()
        }
    }

    private static func transaction<Result: Sendable>(
        _ database: any SQLDatabase, begin: String,
        _ body: @Sendable (any SQLDatabase) async throws -> Result,
        abandon: () async throws -> Void
    ) async throws -> Result {
        try await database.raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(database)
            try await database.raw("COMMIT").run()
            return result
        } catch {
            do {
                try await database.raw("ROLLBACK").run()
            } catch {
                try? await abandon()
            }
            throw error
        }
    }

    func shutdown() async throws {
        switch self {
        case .sqlite(let pool): try await pool.close().get()
        case .postgres(let pool): try await pool.close().get()
        }
    }

    /// Starts closing and does not wait (the pool keeps itself alive until it is closed).
    func closeUnawaited() {
        switch self {
        case .sqlite(let pool): _ = pool.close()
        case .postgres(let pool): _ = pool.close()
        }
    }
}
