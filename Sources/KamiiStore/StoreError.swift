import PostgresKit

/// Why a storage call failed.
///
/// Caller mistakes (invalid input, an unknown guild, a missing record) are separate from runtime
/// failures (the database itself): the first are answered to the user, the second are logged and retried.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// A value was rejected before anything was written (see `detail`).
        case invalidInput
        /// The guild has never been registered with ``KamiiStore/registerGuild(_:at:)``.
        case unknownGuild
        /// The record asked for does not exist.
        case notFound
        /// Someone else changed the record since the caller read it (a stale panel form).
        case conflict
        /// The database was migrated by a newer Kamii than this binary.
        case schemaTooNew
        /// The database URL or engine settings are unusable.
        case misconfigured
        /// The database reported an error.
        case database
    }

    public let kind: Kind
    public let detail: String
    /// The driver's error, for `.database`.
    public let underlying: (any Error)?

    /// An error of `kind`; `detail` is shown to operators, so it never holds secrets.
    public init(_ kind: Kind, _ detail: String, underlying: (any Error)? = nil) {
        self.kind = kind
        self.detail = detail
        self.underlying = underlying
    }

    static func invalid(_ field: String, _ problem: String) -> StoreError {
        StoreError(.invalidInput, "\(field): \(problem)")
    }

    public var description: String {
        let what = switch kind {
        case .invalidInput: "invalid input"
        case .unknownGuild: "unknown guild"
        case .notFound: "not found"
        case .conflict: "conflicting change"
        case .schemaTooNew: "database schema is newer than this binary"
        case .misconfigured: "misconfigured database"
        case .database: "database error"
        }
        return underlying.map { "\(what): \(detail) (\(Self.explain($0)))" } ?? "\(what): \(detail)"
    }

    /// The driver's error in words an operator can act on (refused connection, unknown role,
    /// missing database): PostgreSQL's message and SQLSTATE, or the connection's failure — not the
    /// query or its bind values, which is why PostgresNIO's own description is a fixed text that
    /// says nothing. (A message may quote a value the server refused.)
    static func explain(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            return "PostgreSQL: \(message)" + (error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? "")
        }
        return error.underlying.map { "PostgreSQL \(error.code): \($0)" } ?? "PostgreSQL \(error.code)"
    }
}
