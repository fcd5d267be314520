/// The REST limits the simulator enforces, Discord's by default. Tests shorten the windows
/// (`windowScale`) or raise the global limit to push many requests through quickly.
public struct RESTLimits: Sendable, Equatable {
    /// One bucket's allowance: `limit` requests per `seconds`.
    public struct Bucket: Sendable, Equatable {
        public var limit: Int
        public var seconds: Double

        public init(limit: Int, seconds: Double) {
            self.limit = limit
            self.seconds = seconds
        }
    }

    /// Requests per `globalWindowSeconds` across all routes (interaction callbacks exempt), over
    /// any such span. Discord: 50 per second.
    public var globalPerSecond: Int
    public var globalWindowSeconds: Double
    /// Multiplies every bucket window and the invalid-request window (1: Discord's timing).
    public var windowScale: Double
    /// Per rate-limit group (see ``bucket(for:)``), replacing the default.
    public var overrides: [String: Bucket]
    /// 401, 403 and 429 answers allowed per `invalidRequestWindowSeconds` before the "Cloudflare"
    /// ban: every request refused for `banSeconds`. Discord: 10,000 per 10 minutes, one hour.
    public var invalidRequestLimit: Int
    public var invalidRequestWindowSeconds: Double
    public var banSeconds: Double

    public init(
        globalPerSecond: Int = 50, globalWindowSeconds: Double = 1, windowScale: Double = 1, overrides: [String: Bucket] = [:],
        invalidRequestLimit: Int = 10_000, invalidRequestWindowSeconds: Double = 600, banSeconds: Double = 3_600
    ) {
        self.globalPerSecond = globalPerSecond
        self.globalWindowSeconds = globalWindowSeconds
        self.windowScale = windowScale
        self.overrides = overrides
        self.invalidRequestLimit = invalidRequestLimit
        self.invalidRequestWindowSeconds = invalidRequestWindowSeconds
        self.banSeconds = banSeconds
    }

    /// Discord's per-route allowances as observed from its headers (they are not documented and
    /// change; what matters is that a client learns them from the headers, never assumes them).
    static let defaults: [String: Bucket] = [
        "gateway": Bucket(limit: 50, seconds: 1),
        "gateway-bot": Bucket(limit: 2, seconds: 5),
        "users-me": Bucket(limit: 5, seconds: 5),
        "users-me-guilds": Bucket(limit: 1, seconds: 1),
        "application": Bucket(limit: 5, seconds: 5),
        "messages": Bucket(limit: 5, seconds: 5),
        "dm": Bucket(limit: 10, seconds: 10),
        "member-roles": Bucket(limit: 10, seconds: 10),
        "member-get": Bucket(limit: 5, seconds: 1),
        "member-modify": Bucket(limit: 10, seconds: 10),
        "member-kick": Bucket(limit: 5, seconds: 5),
        "bans": Bucket(limit: 5, seconds: 5),
        "unbans": Bucket(limit: 5, seconds: 5),
        "bulk-ban": Bucket(limit: 1, seconds: 10),
        "channel-create": Bucket(limit: 5, seconds: 5),
        "channel-modify": Bucket(limit: 5, seconds: 5),
        "channel-delete": Bucket(limit: 5, seconds: 5),
        "commands": Bucket(limit: 2, seconds: 20),
        "guild-commands": Bucket(limit: 2, seconds: 20),
        "interaction-callback": Bucket(limit: 5, seconds: 5),
        "webhook": Bucket(limit: 5, seconds: 5),
    ]

    /// The allowance of a rate-limit group, windows scaled.
    public func bucket(for group: String) -> Bucket {
        var bucket = overrides[group] ?? Self.defaults[group] ?? Bucket(limit: 5, seconds: 5)
        bucket.seconds *= windowScale
        return bucket
    }
}
