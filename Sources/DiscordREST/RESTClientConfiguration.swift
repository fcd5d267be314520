/// How a ``DiscordRESTClient`` talks to Discord (or to anything that answers like it).
public struct RESTClientConfiguration: Sendable {
    /// The API base, `https://discord.com/api/v10` for Discord.
    public var apiBaseURL: String
    /// The bot token (sent as `Authorization: Bot …`; never logged).
    public var token: String
    /// Requests per `globalWindowSeconds` across all routes (Discord: 50 per second; larger bots
    /// are granted more), 1…1,000,000.
    public var globalLimit: Int
    public var globalWindowSeconds: Double
    /// Safety added to every reset and retry time Discord announces.
    public var margin: Double
    /// Invalid answers (401, 403, 429) allowed over 10 minutes before the client refuses to send;
    /// Discord bans the IP at 10,000.
    public var invalidRequestLimit: Int
    public var invalidRequestWindowSeconds: Double
    /// How long a request may take in all, waits for limits included.
    public var defaultDeadline: Duration
    /// How many times an idempotent request is retried after a 5xx or a lost connection, and the
    /// first backoff (doubled each time, with jitter).
    public var maxRetries: Int
    public var firstBackoff: Duration
    /// Discord's User-Agent format: `DiscordBot ($url, $version)`.
    public var userAgent: String

    public init(
        apiBaseURL: String = "https://discord.com/api/v10", token: String, globalLimit: Int = 50, globalWindowSeconds: Double = 1,
        margin: Double = 0.02, invalidRequestLimit: Int = 8_000, invalidRequestWindowSeconds: Double = 600,
        defaultDeadline: Duration = .seconds(30), maxRetries: Int = 3, firstBackoff: Duration = .milliseconds(250),
        userAgent: String = "DiscordBot (https://github.com/kamii-bot/kamii, 0.1.0)"
    ) {
        self.apiBaseURL = apiBaseURL
        self.token = token
        self.globalLimit = globalLimit
        self.globalWindowSeconds = globalWindowSeconds
        self.margin = margin
        self.invalidRequestLimit = invalidRequestLimit
        self.invalidRequestWindowSeconds = invalidRequestWindowSeconds
        self.defaultDeadline = defaultDeadline
        self.maxRetries = maxRetries
        self.firstBackoff = firstBackoff
        self.userAgent = userAgent
    }
}
