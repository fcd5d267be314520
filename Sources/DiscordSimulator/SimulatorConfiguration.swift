public import DiscordModels

/// What the simulated Discord looks like to a bot: its application, the token it accepts, the
/// world it serves, and how fast it talks.
public struct SimulatorConfiguration: Sendable {
    /// The bot token the simulator accepts (`Authorization: Bot …`, identify `token`).
    public var token: String
    public var applicationID: UInt64
    public var botUserID: UserID
    public var botUsername: String
    /// The privileged intents the application is approved for; others are refused with 4014.
    public var approvedPrivilegedIntents: GatewayIntents
    /// Hello's `heartbeat_interval`, in milliseconds.
    public var heartbeatIntervalMilliseconds: Int
    /// Guilds, channels, roles and members; also the source of live traffic.
    public var world: TrafficWorld
    /// Seed of each session's live traffic.
    public var trafficSeed: UInt64
    /// Live events of a session's guilds per second, after its GUILD_CREATEs (0: none); those the
    /// session's intents do not cover are not sent.
    public var dispatchesPerSecond: Int
    /// How many live dispatches a session sends at most (nil: no limit).
    public var maxDispatchesPerSession: Int?
    /// Live events each new session draws and renders when it starts, before sending any (0:
    /// each is drawn as it is sent). A load run's head start: sending those costs numbering,
    /// the replay copy, the ground truth's count, compression and the write — the served path
    /// issue 3's target speaks of. About 1 KB each, per session; a REST change reaches the traffic
    /// drawn after them.
    public var prerenderedDispatches = 0
    /// `session_start_limit.max_concurrency`: identify buckets are `shard_id % maxConcurrency`.
    public var maxConcurrency: Int
    /// At most one identify per bucket per window (Discord: 5 s; shorter in tests).
    public var identifyWindowMilliseconds: Int
    /// How often the members of a whole guild may be requested (op 8 with `query: ""`, `limit: 0`):
    /// Discord's 30 s; a repeat within it gets a RATE_LIMITED dispatch.
    public var allMembersRequestWindowMilliseconds = 30_000
    /// `session_start_limit.total`: identifies allowed per reset period. Past it the token is reset.
    public var sessionStartLimit: Int
    /// How long until the session start budget is restored.
    public var sessionStartResetMilliseconds: Int
    /// How the streams it sends are compressed: like Discord by default (and what the inflate
    /// benchmarks use); a load run that must out-run the bot picks `.fast`, which trades ratio for
    /// dispatches per core: about 3× on zlib-stream, 1.2× on zstd-stream (docs/PERFORMANCE.md).
    public var compression = DeflaterSettings.discord
    /// How long a session left without a connection can still be resumed; after that a resume
    /// gets op 9 `false` and the session is let go. Discord does not publish its window; two
    /// minutes is ours.
    public var resumeWindowMilliseconds = 120_000
    /// zlib-stream: one compressed message in this many goes out as two WebSocket messages, cut in
    /// the middle. Discord's docs have clients buffer until a message ends in `00 00 ff ff`, since a
    /// payload may span messages; a client that inflates each message alone fails here as it would
    /// there. Nil: every payload in one message.
    public var zlibSplitEvery: Int? = 64
    /// At most this many client payloads per connection per window, else close 4008 (Discord: 120 per 60 s).
    public var clientSendLimit: Int
    public var clientSendWindowMilliseconds: Int
    /// REST rate limits (Discord's by default).
    public var restLimits = RESTLimits()
    /// `/gateway/bot`'s `shards` (nil: one per 1,000 guilds, as Discord recommends).
    public var recommendedShards: Int?
    /// The OAuth2 client secret the token endpoint accepts.
    public var clientSecret = "simulated.client.secret"
    /// The user `/oauth2/authorize` approves (nil: the owner of the first guild).
    public var oauthUserID: UserID?
    /// Seconds an interaction waits for its initial response (Discord: 3).
    public var interactionResponseSeconds: Double = 3
    /// The XP rules the ground truth is computed under.
    public var xpRules = GroundTruth.Rules()

    public init(
        token: String = "simulated.bot.token",
        applicationID: UInt64 = 1_100_000_000_000_000_001,
        botUserID: UserID = UserID(1_100_000_000_000_000_001),
        botUsername: String = "Kamii",
        approvedPrivilegedIntents: GatewayIntents = [.guildMembers],
        heartbeatIntervalMilliseconds: Int = 41_250,
        world: TrafficWorld,
        trafficSeed: UInt64 = 1,
        dispatchesPerSecond: Int = 100,
        maxDispatchesPerSession: Int? = nil,
        maxConcurrency: Int = 1,
        identifyWindowMilliseconds: Int = 5_000,
        sessionStartLimit: Int = 1_000,
        sessionStartResetMilliseconds: Int = 86_400_000,
        clientSendLimit: Int = 120,
        clientSendWindowMilliseconds: Int = 60_000
    ) {
        self.token = token
        self.applicationID = applicationID
        self.botUserID = botUserID
        self.botUsername = botUsername
        self.approvedPrivilegedIntents = approvedPrivilegedIntents
        self.heartbeatIntervalMilliseconds = heartbeatIntervalMilliseconds
        self.world = world
        self.trafficSeed = trafficSeed
        self.dispatchesPerSecond = dispatchesPerSecond
        self.maxDispatchesPerSession = maxDispatchesPerSession
        self.maxConcurrency = maxConcurrency
        self.identifyWindowMilliseconds = identifyWindowMilliseconds
        self.sessionStartLimit = sessionStartLimit
        self.sessionStartResetMilliseconds = sessionStartResetMilliseconds
        self.clientSendLimit = clientSendLimit
        self.clientSendWindowMilliseconds = clientSendWindowMilliseconds
    }
}
