public import DiscordModels
public import Logging
public import KamiiStore

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
}

/// Where guild actors (and the level-up rewarder) get a guild's settings when they start, and
/// again when they change.
public protocol GuildSettingsSource: Sendable {
    /// The guild's settings, or nil when they cannot be read now (a database gone away). Each
    /// reader decides what to do meanwhile: an actor keeps the settings it has (the defaults if it
    /// has none yet) and asks again a few seconds later; the rewarder leaves the level-up waiting.
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
/// stored configuration runs the defaults. A store that cannot answer gives nil, logged.
public struct StoreGuildSettings: GuildSettingsSource {
    public let store: KamiiStore
    private let logger: Logger

    public init(store: KamiiStore, logger: Logger = Logger(label: "kamii.guilds")) {
        self.store = store
        self.logger = logger
    }

    public func settings(for guild: GuildID) async -> GuildSettings? {
        do {
            return try await store.guildConfig(guild).map { GuildSettings($0.config) } ?? .defaults
        } catch {
            logger.error("guild settings unreadable; asked again in a few seconds", metadata: ["guild": "\(guild)", "error": "\(error)"])
            return nil
        }
    }
}
