public import DiscordModels

/// A member joined a guild whose level rewards it may be owed again (Discord drops a member's
/// roles when they leave; a member who comes back has their level in Redis still).
public struct MemberJoin: Sendable, Hashable {
    public var guild: GuildID
    public var user: UserID

    public init(guild: GuildID, user: UserID) {
        self.guild = guild
        self.user = user
    }
}
