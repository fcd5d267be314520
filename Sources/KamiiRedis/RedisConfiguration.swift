import Foundation

/// Where Redis is and how patient to be with it.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var host: String
    public var port: Int
    /// A Redis 6 ACL user; nil authenticates as the default user.
    public var username: String?
    public var password: String?
    public var database: Int
    public var connectTimeout: Duration
    /// How long a pipeline may wait for its replies before the connection is given up.
    public var commandTimeout: Duration
    /// The most bytes one reply may take on the wire (a guild's whole hash of a million members is
    /// about 80 MB): a larger one fails its pipeline and closes the connection rather than
    /// growing memory without bound. The bound is on the wire: while a reply is read, hiredis holds
    /// an object of tens of bytes per element, so an array of one-digit integers (4 bytes each on
    /// the wire) can take over ten times this in memory.
    public var maxReplyBytes: Int

    public init(
        host: String = "127.0.0.1", port: Int = 6379, username: String? = nil, password: String? = nil, database: Int = 0,
        connectTimeout: Duration = .seconds(2), commandTimeout: Duration = .seconds(5), maxReplyBytes: Int = 256 << 20
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
        self.maxReplyBytes = maxReplyBytes
    }

    /// Reads `redis://[:password@]host[:port][/database]`.
    public init(url text: String) throws {
        guard let url = URL(string: text), url.scheme == "redis", let host = url.host, !host.isEmpty else {
            // Never echoed: the URL may carry a password.
            throw ConfigurationError("not a redis://[user:password@]host[:port][/database] URL")
        }
        var database = 0
        let path = url.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if !path.isEmpty {
            // Not echoed either: a password with an unescaped '/' ends up in the path.
            guard let number = Int(path), number >= 0 else { throw ConfigurationError("the database in a redis:// URL is a number") }
            database = number
        }
        // Both read as written in the URL and decoded once (`URL.user` alone would decode twice).
        func decoded(_ part: String?, _ name: String) throws -> String? {
            guard let part, !part.isEmpty else { return nil }
            guard let text = part.removingPercentEncoding else { throw ConfigurationError("the \(name) in a redis:// URL has a broken % escape") }
            return text.isEmpty ? nil : text
        }
        let user = try decoded(url.user(percentEncoded: true), "user")
        let password = try decoded(url.password(percentEncoded: true), "password")
        if user != nil, password == nil { throw ConfigurationError("a redis:// URL with a user needs its password") }
        self.init(host: host, port: url.port ?? 6379, username: user, password: password, database: database)
    }

    /// Where, without the password (a configuration printed in a log or a failed test stays safe).
    public var description: String {
        let credentials = password == nil ? "" : "\(username.map { "\($0):" } ?? ":")***@"
        return "redis://\(credentials)\(host):\(port)/\(database)"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    /// A configuration that cannot be used, said plainly (passwords are never echoed).
    public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}
