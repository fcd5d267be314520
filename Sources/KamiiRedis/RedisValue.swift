/// One reply from Redis (RESP2, which is what Debian's hiredis 0.14 speaks).
public enum RedisValue: Sendable, Equatable {
    /// `+OK`, `+PONG`, `+QUEUED`.
    case simple(String)
    /// `-ERR …`: the command failed; the connection is fine.
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    /// A nil bulk string or nil array (a missing key).
    case null
    case array([RedisValue])

    /// The value as text: simple and bulk strings, and integers.
    public var string: String? {
        switch self {
        case .simple(let text): text
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .integer(let value): String(value)
        default: nil
        }
    }

    /// The bytes of a bulk string (binary-safe, unlike ``string``).
    public var bytes: [UInt8]? {
        if case .bulk(let bytes) = self { bytes } else { nil }
    }

    /// The value as an integer: integer replies, and bulk strings that hold one (`GET` of a counter).
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk(let bytes): Int(String(decoding: bytes, as: UTF8.self))
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let values) = self { values } else { nil }
    }

    public var isNull: Bool { self == .null }

    /// Throws the server's error, or returns the value.
    public func orThrow() throws(RedisError) -> RedisValue {
        if case .error(let message) = self { throw .server(message) }
        return self
    }
}
