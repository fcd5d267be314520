public import DiscordModels

/// What an event means for the results a bot must reach (see ``GroundTruth``).
public enum TrafficFact: Sendable, Equatable {
    case none
    /// A message in `channel` (a thread in `parent`, when it has one) by an author holding `roles`
    /// (`@everyone` aside); `earnsXP` is false for bots.
    case message(guild: GuildID, author: UserID, id: MessageID, earnsXP: Bool, channel: ChannelID, parent: ChannelID?, roles: [RoleID])
    /// A message in `author`'s name that is not their own activity: a join's system message (the
    /// newcomer), a webhook's post (the webhook). Sent, and nothing a bot counts.
    case notOwnMessage(guild: GuildID, author: UserID)
    /// A reaction added (`added`) or removed, by `giver` on a message by `receiver`.
    case reaction(guild: GuildID, giver: UserID, receiver: UserID, emoji: String, added: Bool, giverIsBot: Bool, receiverIsBot: Bool)
    /// A message's reactions cleared at once (all, or one emoji's): each one's removal.
    case reactionsCleared([TrafficFact])
    /// A member joined at `at` (Unix milliseconds, as `joined_at` says); `pending` in a guild with
    /// Membership Screening, until they pass it.
    case memberJoined(guild: GuildID, user: TrafficWorld.User, at: UInt64, raid: Bool, pending: Bool)
    case memberLeft(guild: GuildID, user: UserID)
    /// GUILD_MEMBER_ADD sent again for a member who never left (Discord's docs: "may also be sent
    /// for users who are already members"), as they are: nothing changes, no join is counted.
    case memberAnnouncedAgain(guild: GuildID, user: UserID)
    /// A member's GUILD_MEMBER_UPDATE: a role given or taken (by a moderator, a role menu's bot), or
    /// Membership Screening passed. `roles` and `pending` are what it says now; `roleChanged` the one
    /// role the traffic gave or took — what Discord's server applies to the roles the member holds
    /// when it happens (a REST call may have changed them since the traffic drew the update), nil
    /// when no role changed.
    case memberUpdated(guild: GuildID, user: UserID, roles: [RoleID], pending: Bool, roleChanged: RoleChange? = nil)
    /// An interaction a bot may answer with `token` (through REST): a slash command, or a click on
    /// a button of the message `componentMessage`.
    case interaction(id: UInt64, token: String, guild: GuildID, channel: ChannelID, user: UserID, componentMessage: UInt64?)
    /// A member change a REST call made (a role given or taken, a kick, a ban's removal), told as
    /// the session numbers its dispatch: the guilds' states hold it since the call, so only the
    /// ground truth counts it then.
    indirect case throughREST(TrafficFact)

    /// A join, a leave or a member's update: a change to who is a guild's member, or to a member,
    /// which holds whether or not a session sends it.
    var isMemberChange: Bool {
        switch self {
        case .memberJoined, .memberLeft, .memberUpdated: true
        default: false
        }
    }
}

/// One role given to, or taken from, a member.
public struct RoleChange: Sendable, Equatable {
    public let role: RoleID
    public let given: Bool

    public init(role: RoleID, given: Bool) {
        self.role = role
        self.given = given
    }
}
