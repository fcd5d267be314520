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
    /// Live dispatches per second per session after its GUILD_CREATEs (0: none).
    public var dispatchesPerSecond: Int
    /// How many live dispatches a session sends at most (nil: no limit).
    public var maxDispatchesPerSession: Int?

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
        maxDispatchesPerSession: Int? = nil
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
    }
}
