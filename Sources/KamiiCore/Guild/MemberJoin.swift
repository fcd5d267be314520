public import DiscordModels

/// A member joined a guild whose level rewards it may be owed again (Discord drops a member's
/// roles when they leave; a member who comes back has their level in Redis still).
public struct MemberJoin: Sendable, Hashable {
    public var guild: GuildID
    public var user: UserID
    /// What Redis keeps for the join (the id of the flush that kept it): it is marked done only
    /// while Redis still has that — not a later join of the same member, who left and came back
    /// meanwhile. Nil: whatever Redis has for the member.
    public var mark: String?

    public init(guild: GuildID, user: UserID, mark: String? = nil) {
        self.guild = guild
        self.user = user
        self.mark = mark
    }
}
