public import DiscordModels
public import Foundation

/// One member's live counters in one guild, as the checkpointer writes them from Redis into
/// `server_users`.
public struct ServerUserStats: Codable, Sendable, Equatable {
    public var guild: GuildID
    public var user: UserID
    public var xp: Int64
    public var level: Int
    public var karma: Int64
    /// The trust factor, 0–100.
    public var trust: Int
    public var messageCount: Int64
    /// Messages that earned XP.
    public var xpMessages: Int64
    /// When the member last earned XP (the message's time, Unix ms); nil before a first XP.
    public var lastXPAt: Int64?
    public var updatedAt: Date
    /// When (Unix ms, on the clock of the source read) the values were read: a row is replaced only
    /// by values read no earlier. 0: unversioned (replaced by any).
    public var asOf: Int64
    /// The member's profile as their last member event gave it, which trust is judged on (kept so a
    /// guild loaded back from SQL is judged as before); nil where no member event was seen.
    public var hasAvatar: Bool?
    /// When the member joined the guild (Unix ms); 0 when the member event did not say.
    public var joinedAt: Int64?
    /// Membership screening not passed yet.
    public var isPending: Bool?
    /// Holds the guild's verified role.
    public var isVerified: Bool?

    public init(
        guild: GuildID, user: UserID, xp: Int64, level: Int, karma: Int64, trust: Int, messageCount: Int64, xpMessages: Int64 = 0,
        lastXPAt: Int64? = nil, updatedAt: Date, asOf: Int64 = 0,
        hasAvatar: Bool? = nil, joinedAt: Int64? = nil, isPending: Bool? = nil, isVerified: Bool? = nil
    ) {
        self.guild = guild
        self.user = user
        self.xp = xp
        self.level = level
        self.karma = karma
        self.trust = trust
        self.messageCount = messageCount
        self.xpMessages = xpMessages
        self.lastXPAt = lastXPAt
        self.updatedAt = updatedAt
        self.asOf = asOf
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
    }

    func validate() throws(StoreError) {
        try StoreSupport.requireValid(guild, "server_users.guild")
        try StoreSupport.requireValid(user, "server_users.user")
        guard xp >= 0, level >= 0, messageCount >= 0, xpMessages >= 0, (lastXPAt ?? 0) >= 0, asOf >= 0, (joinedAt ?? 0) >= 0 else {
            throw .invalid("server_users", "xp, level, message counts and times cannot be negative (user \(user))")
        }
        guard (0...100).contains(trust) else { throw .invalid("server_users.trust", "\(trust) is not between 0 and 100 (user \(user))") }
        // The column is INTEGER: 64 bits on SQLite, 32 on PostgreSQL. Refused alike on both.
        guard level <= Int(Int32.max) else { throw .invalid("server_users.level", "\(level) is past \(Int32.max) (user \(user))") }
    }
}

/// What a leaderboard ranks by.
public enum LeaderboardOrder: String, Sendable, CaseIterable {
    case xp, karma
}
