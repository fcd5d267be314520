public import DiscordModels

/// Everything an admin configures for one guild in the panel. Stored as one JSON document per
/// guild (`guild_config.settings`), validated before every write.
public struct GuildConfig: Codable, Sendable, Equatable {
    /// Module switches.
    public struct Modules: Codable, Sendable, Equatable {
        public var xp = true
        public var karma = false
        public var welcome = false
        public var farewell = false
        public var moderation = true
        public var tickets = false
        public var verification = false
        public var alerts = false
        public init() {}
    }

    /// Channel and category IDs the modules post to.
    public struct Channels: Codable, Sendable, Equatable {
        public var welcome: ChannelID?
        public var farewell: ChannelID?
        public var alerts: ChannelID?
        public var modLog: ChannelID?
        public var ticketCategory: ChannelID?
        public var levelUp: ChannelID?
        public init() {}
    }

    /// A role granted on reaching a level.
    public struct LevelReward: Codable, Sendable, Equatable {
        public var level: Int
        public var role: RoleID
        public init(level: Int, role: RoleID) {
            self.level = level
            self.role = role
        }
    }

    /// XP rules; the defaults are MEE6's (15–25 XP per message, once per 60 s).
    public struct XPSettings: Codable, Sendable, Equatable {
        public var minPerMessage = 15
        public var maxPerMessage = 25
        public var cooldownSeconds = 60
        public var multiplier = 1.0
        public var channelMultipliers: [ChannelID: Double] = [:]
        public var roleMultipliers: [RoleID: Double] = [:]
        public var noXPChannels: [ChannelID] = []
        public var noXPRoles: [RoleID] = []
        public var levelRewards: [LevelReward] = []
        /// Keep earlier reward roles (stack) or keep only the highest (replace).
        public var stackRewards = true
        public init() {}
    }

    /// Karma rules: reactions with these emoji give the message's author +1.
    public struct KarmaSettings: Codable, Sendable, Equatable {
        public var emoji: [String] = ["👍"]
        public var cooldownSeconds = 60
        public init() {}
    }

    public var modules = Modules()
    public var channels = Channels()
    public var verifiedRole: RoleID?
    public var xp = XPSettings()
    public var karma = KarmaSettings()

    public init() {}
}

extension GuildConfig {
    /// The limits a config must respect; anything outside is refused with the field named.
    public func validate() throws(StoreError) {
        for (field, id) in [("channels.welcome", channels.welcome), ("channels.farewell", channels.farewell),
                            ("channels.alerts", channels.alerts), ("channels.modLog", channels.modLog),
                            ("channels.ticketCategory", channels.ticketCategory), ("channels.levelUp", channels.levelUp)] {
            if let id, !id.isValid { throw .invalid(field, "\(id) is not a Discord ID") }
        }
        if let verifiedRole, !verifiedRole.isValid { throw .invalid("verifiedRole", "\(verifiedRole) is not a Discord ID") }

        guard (0...1_000).contains(xp.minPerMessage), (0...1_000).contains(xp.maxPerMessage) else {
            throw .invalid("xp.minPerMessage/maxPerMessage", "must be between 0 and 1000")
        }
        guard xp.minPerMessage <= xp.maxPerMessage else { throw .invalid("xp.minPerMessage", "is above xp.maxPerMessage") }
        guard (0...86_400).contains(xp.cooldownSeconds) else { throw .invalid("xp.cooldownSeconds", "must be between 0 and 86400") }
        try Self.checkMultiplier(xp.multiplier, "xp.multiplier")
        try Self.checkList(xp.noXPChannels, "xp.noXPChannels")
        try Self.checkList(xp.noXPRoles, "xp.noXPRoles")
        guard xp.channelMultipliers.count <= 500, xp.roleMultipliers.count <= 250 else {
            throw .invalid("xp multipliers", "at most 500 channels and 250 roles")
        }
        for (channel, value) in xp.channelMultipliers {
            guard channel.isValid else { throw .invalid("xp.channelMultipliers", "\(channel) is not a Discord ID") }
            try Self.checkMultiplier(value, "xp.channelMultipliers[\(channel)]")
        }
        for (role, value) in xp.roleMultipliers {
            guard role.isValid else { throw .invalid("xp.roleMultipliers", "\(role) is not a Discord ID") }
            try Self.checkMultiplier(value, "xp.roleMultipliers[\(role)]")
        }
        guard xp.levelRewards.count <= 250 else { throw .invalid("xp.levelRewards", "at most 250 rewards") }
        var levels = Set<Int>()
        for reward in xp.levelRewards {
            guard (1...1_000).contains(reward.level) else { throw .invalid("xp.levelRewards", "level \(reward.level) is not between 1 and 1000") }
            guard reward.role.isValid else { throw .invalid("xp.levelRewards", "\(reward.role) is not a Discord ID") }
            guard levels.insert(reward.level).inserted else { throw .invalid("xp.levelRewards", "level \(reward.level) appears twice") }
        }

        guard (1...20).contains(karma.emoji.count) else { throw .invalid("karma.emoji", "between 1 and 20 emoji") }
        for emoji in karma.emoji where emoji.isEmpty || emoji.utf8.count > 100 {
            throw .invalid("karma.emoji", "each emoji is 1 to 100 bytes")
        }
        guard (0...86_400).contains(karma.cooldownSeconds) else { throw .invalid("karma.cooldownSeconds", "must be between 0 and 86400") }
    }

    private static func checkMultiplier(_ value: Double, _ field: String) throws(StoreError) {
        guard value.isFinite, (0...10).contains(value) else { throw .invalid(field, "must be between 0 and 10") }
    }

    private static func checkList<Tag>(_ ids: [Snowflake<Tag>], _ field: String) throws(StoreError) {
        guard ids.count <= 500 else { throw .invalid(field, "at most 500 entries") }
        if let bad = ids.first(where: { !$0.isValid }) { throw .invalid(field, "\(bad) is not a Discord ID") }
    }
}
