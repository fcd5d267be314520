@preconcurrency import AsyncKit
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import SQLKit
import SQLiteKit

/// The pooled connections of one engine, handing out one connection at a time as an `SQLDatabase`.
///
/// `@unchecked`: AsyncKit's pool guards its state with its own lock and is used from any thread
/// by Vapor and Fluent, but predates `Sendable` annotations.
enum ConnectionPool: @unchecked Sendable {
    case sqlite(EventLoopGroupConnectionPool<SQLiteSource>)
    case postgres(EventLoopGroupConnectionPool<PostgresConnectionSource>)

    static func make(_ configuration: StoreConfiguration, logger: Logger) throws(StoreError) -> ConnectionPool {
        let group = MultiThreadedEventLoopGroup.singleton
        let perLoop = max(1, configuration.maxConnections / System.coreCount)
        switch configuration.engine {
        case .sqlite(let path):
            let source = SQLiteSource(path: path, busyTimeoutMilliseconds: configuration.sqliteBusyTimeoutMilliseconds)
            return .sqlite(EventLoopGroupConnectionPool(source: source, maxConnectionsPerEventLoop: perLoop, logger: logger, on: group))
        case .postgres(let url, let searchPath):
            var sqlConfiguration: SQLPostgresConfiguration
            do {
                sqlConfiguration = try SQLPostgresConfiguration(url: url)
            } catch {
                throw StoreError(.misconfigured, "cannot read the PostgreSQL URL", underlying: error)
            }
            sqlConfiguration.searchPath = searchPath
            let source = PostgresConnectionSource(sqlConfiguration: sqlConfiguration)
            return .postgres(EventLoopGroupConnectionPool(source: source, maxConnectionsPerEventLoop: perLoop, logger: logger, on: group))
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

    func shutdown() async throws {
        switch self {
        case .sqlite(let pool): try await pool.shutdownAsync()
        case .postgres(let pool): try await pool.shutdownAsync()
        }
    }
}
