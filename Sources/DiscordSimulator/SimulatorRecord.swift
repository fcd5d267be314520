import Synchronization

/// What the simulator did, for tests to compare with what a client saw.
public final class SimulatorRecord: Sendable {
    /// One gateway connection's history.
    public struct Connection: Sendable, Equatable {
        /// 1, 2, 3… in the order connections were accepted.
        public var number: Int
        public var compression: String
        /// Whether the client came in on READY's `resume_gateway_url` rather than the gateway URL.
        public var viaResumeURL = false
        /// Set once an identify succeeded.
        public var sessionID: String?
        public var intents: UInt64 = 0
        public var shard: [Int] = [0, 1]
        /// Dispatches first sent on this connection, by event name (READY and GUILD_CREATE
        /// included; replays of a resume are counted in `replayed` instead).
        public var dispatches: [String: Int] = [:]
        /// Whether this connection resumed an earlier session, and how many dispatches it replayed.
        public var resumed = false
        public var replayed = 0
        public var reconnectsSent = 0
        public var invalidSessionsSent = 0
        /// The last `s` sent.
        public var lastSequence = 0
        public var heartbeatsAcknowledged = 0
        /// WebSocket pings sent (the `ping` fault), and pongs that echoed the last one's bytes.
        public var pingsSent = 0
        public var pongsReceived = 0
        /// zlib-stream payloads sent as two WebSocket messages (``SimulatorConfiguration/zlibSplitEvery``).
        public var splitMessages = 0
        /// The close code the simulator closed the connection with, if it did.
        public var closeCode: Int?
        /// The close code the client closed the connection with, if it did (1000/1001 end the session).
        public var clientCloseCode: Int?
    }

    private let state = Mutex<(connections: [Connection], rest: [RESTCall])>(([], []))

    public init() {}

    /// Every gateway connection, in the order they were accepted.
    public var connections: [Connection] { state.withLock { $0.connections } }

    /// Dispatches first sent in a session, by event name, over all its connections.
    public func dispatches(inSession id: String) -> [String: Int] {
        connections.filter { $0.sessionID == id }.reduce(into: [:]) { total, connection in
            total.merge(connection.dispatches, uniquingKeysWith: +)
        }
    }

    /// Every REST call, as `METHOD /path`, in order.
    public var restCalls: [String] { rest.map { "\($0.method) \($0.path)" } }

    /// The REST calls in full, in order (the last 200,000; bodies cut at 4 KiB).
    public var rest: [RESTCall] { state.withLock { $0.rest } }

    /// Registers a new connection and returns its number.
    func open(compression: String, viaResumeURL: Bool = false) -> Int {
        state.withLock { state in
            let number = state.connections.count + 1
            state.connections.append(Connection(number: number, compression: compression, viaResumeURL: viaResumeURL))
            return number
        }
    }

    func update(_ number: Int, _ change: (inout Connection) -> Void) {
        state.withLock { change(&$0.connections[number - 1]) }
    }

    /// How many REST calls the record keeps (the oldest go first), and how much of each body: a
    /// simulator left running must not grow without end.
    static let restCallLimit = 200_000
    static let bodyLimit = 4_096

    func recordREST(_ call: RESTCall) {
        var call = call
        if call.body.utf8.count > Self.bodyLimit { call.body = String(decoding: call.body.utf8.prefix(Self.bodyLimit), as: UTF8.self) }
        state.withLock { state in
            if state.rest.count >= Self.restCallLimit + Self.restCallLimit / 10 {
                state.rest.removeFirst(state.rest.count - Self.restCallLimit)
            }
            state.rest.append(call)
        }
    }
}

/// One REST request as the simulator answered it.
public struct RESTCall: Sendable, Equatable {
    public var method: String
    public var path: String
    /// The query string, without `?`.
    public var query: String?
    /// The matched template (`PUT /guilds/{guild.id}/bans/{user.id}`), nil when nothing matched.
    public var route: String?
    public var status: Int
    /// Seconds since the simulator started, when the request was answered.
    public var at: Double
    /// The rate-limit bucket hash of the route.
    public var bucket: String?
    /// The 429's scope (`user`, `global`, `shared`) when it was refused for a limit.
    public var scope: String?
    /// `X-Audit-Log-Reason`, percent-decoded.
    public var auditLogReason: String?
    /// `User-Agent` (Discord wants `DiscordBot ($url, $version)`).
    public var userAgent: String?
    /// The request body as text.
    public var body: String
}
