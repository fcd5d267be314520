import Foundation

/// Where Kamii keeps its SQL data: a SQLite file (the default, for small operators) or a
/// PostgreSQL server (for large networks), chosen by `database.url`.
public struct StoreConfiguration: Sendable, Equatable, CustomStringConvertible {
    public enum Engine: Sendable, Equatable, CustomStringConvertible {
        /// A SQLite database file, opened in WAL mode.
        case sqlite(path: String)
        /// A PostgreSQL server: `postgres://user:password@host:port/database`.
        case postgres(url: String, searchPath: [String]?)

        /// The engine without the database password (printed alone, too, it must not show it).
        public var description: String {
            switch self {
            case .sqlite(let path):
                return "sqlite:\(path)"
            case .postgres(let url, _):
                guard var components = URLComponents(string: url) else {
                    // A URL `URL` reads and `URLComponents` does not: nothing of it is said.
                    return "postgres://<redacted>"
                }
                if components.password != nil { components.password = "<redacted>" }
                return components.string ?? "postgres://<redacted>"
            }
        }
    }

    public var engine: Engine

    /// The configuration without the database password.
    public var description: String { engine.description }
    /// How many connections the pool may open.
    public var maxConnections: Int
    /// How long a SQLite writer waits for another process's lock before failing.
    public var sqliteBusyTimeoutMilliseconds: Int
    /// Rows per multi-row statement in batch upserts (bounded by the engines' bind-parameter limits).
    public var batchRows: Int
    /// PostgreSQL: the longest a statement may run, and wait for a lock, before the server ends it
    /// with an error (`statement_timeout`, `lock_timeout`), and the longest a transaction may sit
    /// idle (`idle_in_transaction_session_timeout`). Without them, one statement held behind an
    /// operator's forgotten `BEGIN … FOR UPDATE` waits for ever, and so does every checkpoint after
    /// it. Migrations run without the first two (an index over a large table may take longer).
    public var postgresStatementTimeout: Duration = .seconds(120)
    public var postgresLockTimeout: Duration = .seconds(60)
    public var postgresIdleTransactionTimeout: Duration = .seconds(300)
    /// PostgreSQL over TCP: how soon a server whose host vanished is given up on (see
    /// ``TCPKeepAlive``) — the limits above are the server's, and cannot end a wait for a reply
    /// from a host that is gone.
    public var postgresKeepAlive = TCPKeepAlive()
    /// Whether a starting process migrates the schema itself (``KamiiStore/prepare()``), or only
    /// checks it is current — for operators who run `kamii migrate` as a deployment step.
    public var migrateOnStart: Bool

    public init(
        engine: Engine, maxConnections: Int = 4, sqliteBusyTimeoutMilliseconds: Int = 10_000, batchRows: Int = 1_000,
        migrateOnStart: Bool = true
    ) {
        self.engine = engine
        self.migrateOnStart = migrateOnStart
        self.maxConnections = maxConnections
        self.sqliteBusyTimeoutMilliseconds = sqliteBusyTimeoutMilliseconds
        self.batchRows = batchRows
    }

    /// The most rows one upsert statement may carry: with a parameter bound per `server_users`
    /// column, it stays under SQLite's 32,766 (and PostgreSQL's 65,535) parameters per statement.
    public static let maxBatchRows = 32_766 / KamiiStore.serverUserColumnNames.count

    /// Checks the settings; ``KamiiStore/init(_:logger:)`` calls it.
    public func validate() throws(StoreError) {
        guard (1...200).contains(maxConnections) else { throw StoreError(.misconfigured, "maxConnections must be between 1 and 200") }
        guard (1...Self.maxBatchRows).contains(batchRows) else { throw StoreError(.misconfigured, "batchRows must be between 1 and \(Self.maxBatchRows)") }
        guard sqliteBusyTimeoutMilliseconds >= 0 else { throw StoreError(.misconfigured, "sqliteBusyTimeoutMilliseconds cannot be negative") }
        for (name, limit) in [("postgresStatementTimeout", postgresStatementTimeout), ("postgresLockTimeout", postgresLockTimeout),
                              ("postgresIdleTransactionTimeout", postgresIdleTransactionTimeout)] {
            guard limit >= .milliseconds(1), limit <= .seconds(86_400) else { throw StoreError(.misconfigured, "\(name) must be between 1 ms and a day") }
        }
        try postgresKeepAlive.validate()
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
            // Each pooled connection would open a database of its own, empty: the schema one
            // connection made would be missing on the next.
            guard path != ":memory:", !path.hasPrefix("file::memory:"), !path.contains("mode=memory") else {
                throw StoreError(.misconfigured, "an in-memory SQLite database is not shared between connections: name a file (sqlite:PATH)")
            }
            self.init(engine: .sqlite(path: path))
        } else {
            throw StoreError(.misconfigured, "unsupported database URL scheme (use sqlite:PATH or postgres://…)")
        }
    }
}
