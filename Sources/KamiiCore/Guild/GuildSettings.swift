public import DiscordModels
public import Logging
public import KamiiStore
import Synchronization

/// The rules a guild actor applies, from the guild's configuration; a module that is switched off
/// has no rules.
public struct GuildSettings: Sendable {
    public var xp: XPRules?
    public var karma: KarmaRules?
    /// The role members get once verified (a trust signal).
    public var verifiedRole: UInt64?
    /// What a level-up brings (reward roles, an announcement); none while XP is off.
    public var levelRewards: LevelRewards

    public init(xp: XPRules?, karma: KarmaRules?, verifiedRole: UInt64? = nil, levelRewards: LevelRewards = .none) {
        self.xp = xp
        self.karma = karma
        self.verifiedRole = verifiedRole
        self.levelRewards = levelRewards
    }

    /// The rules of a stored configuration.
    public init(_ config: GuildConfig) {
        xp = config.modules.xp ? XPRules(config.xp) : nil
        karma = config.modules.karma ? KarmaRules(config.karma) : nil
        verifiedRole = config.verifiedRole?.rawValue
        levelRewards = config.modules.xp ? LevelRewards(config) : .none
    }

    /// A guild nobody configured: Kamii's defaults (XP on, karma off).
    public static let defaults = GuildSettings(GuildConfig())

    /// Whether these stand for a configuration this binary refused (``refused``).
    public private(set) var isRefused = false

    /// Whether these stand in for settings not read yet (``standIn``).
    public private(set) var isStandIn = false

    /// What an actor runs while its guild's settings cannot be read (a database gone away) and it
    /// has read none yet: the defaults' XP, so members keep earning — and nothing judged from a
    /// configuration it has not seen. Which role verifies is not known (a member's record keeps
    /// its flag), and joins are reported: the rewarder reads the settings itself, and holds a join
    /// while it cannot.
    public static let standIn: GuildSettings = {
        var settings = GuildSettings.defaults
        settings.isStandIn = true
        return settings
    }()

    /// A guild whose stored configuration this binary refuses — one it cannot decode, or outside
    /// the limits the panel enforces (written by hand, or by another build): its members' messages
    /// are counted, and nothing the configuration could have forbidden is given (no XP, karma or
    /// rewards) until an admin saves one that is valid. The defaults could give XP in a guild, or a
    /// channel, where the admin had turned it off — and XP given is not taken back.
    public static let refused: GuildSettings = {
        var settings = GuildSettings(xp: nil, karma: nil)
        settings.isRefused = true
        return settings
    }()
}

/// Where guild actors (and the level-up rewarder) get a guild's settings when they start, and
/// again when they change.
public protocol GuildSettingsSource: Sendable {
    /// The guild's settings (``GuildSettings/refused`` for a stored configuration refused), or nil
    /// when they cannot be read now (a database gone away). Each
    /// reader decides what to do meanwhile: an actor keeps the settings it has (``GuildSettings/standIn``
    /// if it has none yet) and asks again a few seconds later; the rewarder leaves the level-up waiting.
    func settings(for guild: GuildID) async -> GuildSettings?
}

/// The same settings for every guild (no database, or a benchmark).
public struct FixedGuildSettings: GuildSettingsSource {
    public let settings: GuildSettings

    public init(_ settings: GuildSettings = .defaults) {
        self.settings = settings
    }

    public func settings(for guild: GuildID) async -> GuildSettings? { settings }
}

/// Each guild's settings from the SQL store (what admins save in the panel); a guild with no
/// stored configuration runs the defaults. A store that cannot answer gives nil, logged — and for
/// ``quietPeriod`` after a failed read every read gives nil at once, without asking: while the
/// database is away, the guild actors of a shard (which wait for each other's events) do not each
/// wait for a query to fail. A configuration stored in a form this binary cannot decode, or outside
/// the limits the panel enforces (written by hand, or by another build), gives
/// ``GuildSettings/refused`` for its guild alone.
public struct StoreGuildSettings: GuildSettingsSource {
    public let store: KamiiStore
    private let logger: Logger
    private let quietPeriod: Duration
    private let failedAt = FailureTime()

    public init(store: KamiiStore, quietPeriod: Duration = .seconds(5), logger: Logger = Logger(label: "kamii.guilds")) {
        self.store = store
        self.quietPeriod = quietPeriod
        self.logger = logger
    }

    public func settings(for guild: GuildID) async -> GuildSettings? {
        if let failed = failedAt.instant.withLock({ $0 }), ContinuousClock.now < failed + quietPeriod { return nil }
        do {
            guard let stored = try await store.guildConfig(guild) else { return .defaults }
            do {
                try stored.config.validate()
            } catch {
                logger.error("guild settings stored outside the limits Kamii accepts; messages counted, no XP or karma until they are saved again", metadata: ["guild": "\(guild)", "error": "\(error)"])
                return .refused
            }
            return GuildSettings(stored.config)
        } catch {
            // A stored configuration that cannot be decoded is this guild's problem alone; any other
            // failure is the database's.
            guard !(error.underlying is DecodingError) else {
                logger.error("guild settings stored in a form this binary cannot read; messages counted, no XP or karma until they are saved again", metadata: ["guild": "\(guild)", "error": "\(error)"])
                return .refused
            }
            failedAt.instant.withLock { $0 = .now }
            logger.error("guild settings unreadable; no read for a few seconds", metadata: ["guild": "\(guild)", "error": "\(error)"])
            return nil
        }
    }

    /// When a read last failed, shared by the copies of one source.
    private final class FailureTime: Sendable {
        let instant = Mutex<ContinuousClock.Instant?>(nil)
    }
}
