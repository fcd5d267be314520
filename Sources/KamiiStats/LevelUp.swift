public import DiscordModels

/// A member who reached a new level in a flush (for announcements and role rewards).
public struct LevelUp: Sendable, Equatable {
    public var guild: GuildID
    public var user: UserID
    /// The level before this flush.
    public var previousLevel: Int
    public var level: Int

    public init(guild: GuildID, user: UserID, from previousLevel: Int, to level: Int) {
        self.guild = guild
        self.user = user
        self.previousLevel = previousLevel
        self.level = level
    }
}
