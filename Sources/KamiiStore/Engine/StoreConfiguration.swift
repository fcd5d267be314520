import Foundation

/// Where Kamii keeps its SQL data: a SQLite file (the default, for small operators) or a
/// PostgreSQL server (for large networks), chosen by `database.url`.
public struct StoreConfiguration: Sendable, Equatable {
    public enum Engine: Sendable, Equatable {
        /// A SQLite database file, opened in WAL mode.
        case sqlite(path: String)
        /// A PostgreSQL server: `postgres://user:password@host:port/database`.
        case postgres(url: String, searchPath: [String]?)
    }

    public var engine: Engine
    /// How many connections the pool may open.
    public var maxConnections: Int
    /// How long a SQLite writer waits for another process's lock before failing.
    public var sqliteBusyTimeoutMilliseconds: Int
    /// Rows per multi-row statement in batch upserts (bounded by the engines' bind-parameter limits).
    public var batchRows: Int
    /// Whether a starting process migrates the schema itself (``KamiiStore/prepare()``), or only
    /// checks it is current — for operators who run `kamii migrate` as a deployment step.
    public var migrateOnStart: Bool

    public init(
        engine: Engine, maxConnections: Int = 4, sqliteBusyTimeoutMilliseconds: Int = 10_000, batchRows: Int = 1_000,
        migrateOnStart: Bool = true
    ) {
        precondition(maxConnections > 0 && batchRows > 0, "maxConnections and batchRows must be positive")
        self.engine = engine
        self.migrateOnStart = migrateOnStart
        self.maxConnections = maxConnections
        self.sqliteBusyTimeoutMilliseconds = sqliteBusyTimeoutMilliseconds
        self.batchRows = batchRows
    }

    /// Reads a `database.url`: `sqlite:PATH` / `sqlite://PATH` (relative or absolute), or
    /// `postgres://…` / `postgresql://…`.
    public init(url: String) throws(StoreError) {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            guard URL(string: url)?.host != nil else { throw StoreError(.misconfigured, "cannot read the PostgreSQL URL (expected postgres://user@host:port/database)") }
            self.init(engine: .postgres(url: url, searchPath: nil))
        } else if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { throw StoreError(.misconfigured, "the SQLite URL names no file (expected sqlite:PATH)") }
            self.init(engine: .sqlite(path: path))
        } else {
            throw StoreError(.misconfigured, "unsupported database URL scheme (use sqlite:PATH or postgres://…)")
        }
    }
}
