/// Why a Redis call failed.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// No connection could be made (refused, unreachable, timed out while connecting).
    case connectionFailed(String)
    /// The server refused the connection's AUTH or SELECT (a wrong password, an unknown user, a
    /// database out of range): its words. Trying again will not help.
    case refused(String)
    /// The connection closed with replies outstanding: whether those commands ran is unknown.
    case connectionLost
    /// No reply within the command timeout; the connection was closed, since its replies can no
    /// longer be matched to commands.
    case timeout
    /// The server answered with an error reply (`ERR`, `WRONGTYPE`, `NOSCRIPT`, …).
    case server(String)
    /// Bytes that are not RESP: the connection was closed.
    case protocolViolation(String)
    /// The client was shut down.
    case closed

    public var description: String {
        switch self {
        case .connectionFailed(let why): "cannot connect to Redis: \(why)"
        case .refused(let why): "Redis refused the connection: \(why)"
        case .connectionLost: "the connection to Redis was lost with replies outstanding"
        case .timeout: "Redis did not answer in time"
        case .server(let message): "Redis: \(message)"
        case .protocolViolation(let why): "Redis sent bytes that are not RESP: \(why)"
        case .closed: "the Redis client is closed"
        }
    }
}

extension RedisError {
    /// Redis answered that the connection must authenticate first (a password is needed).
    public var needsAuthentication: Bool {
        if case .server(let message) = self { message.hasPrefix("NOAUTH") } else { false }
    }

    /// What an error reply to a connection's AUTH or SELECT means: ``refused`` when it is about
    /// the credentials or the database, or the command's form (a username sent to a Redis before
    /// 6, which takes none) — trying again will not help; ``connectionFailed`` when it
    /// is the server's state — "max number of clients reached", written to every connection it
    /// accepts while full (a rolling restart's old processes still connected), or LOADING — which
    /// passes, and is waited for like a server that cannot be reached.
    static func refusingSetUp(_ message: String) -> RedisError {
        let code = message.prefix { $0 != " " }
        let aboutCredentialsOrDatabase = ["WRONGPASS", "NOAUTH", "NOPERM"].contains(code)
            || ["password", "DB index", "SELECT", "wrong number of arguments"].contains { message.localizedCaseInsensitiveContains($0) }
        return aboutCredentialsOrDatabase ? .refused(message) : .connectionFailed("the server answered the connection's set-up with: \(message)")
    }

    /// A failure that may pass by itself: no connection, one lost, no answer in time, or a server
    /// still loading its data — not a refusal or an error of the command's.
    public var isTransient: Bool {
        switch self {
        case .connectionFailed, .connectionLost, .timeout: true
        case .server(let message): message.hasPrefix("LOADING") || message.hasPrefix("BUSY") || message.hasPrefix("TRYAGAIN")
        case .refused, .protocolViolation, .closed: false
        }
    }

    /// Redis refused a command because a key holds another kind of value than the command works on.
    public var isWrongType: Bool {
        if case .server(let message) = self { message.hasPrefix("WRONGTYPE") } else { false }
    }
}
