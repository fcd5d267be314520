public import DiscordModels
public import DiscordREST

/// What a level-up does on Discord: reward roles and the announcement. Behind a protocol so the
/// rewarder's rules are testable; ``RESTLevelUpActions`` is the real one.
public protocol LevelUpActions: Sendable {
    func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError)
    func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError)
    /// Posts the level-up in `channel`, mentioning (and pinging) only the member.
    func announce(level: Int, of user: UserID, in channel: ChannelID) async throws(RESTError)
}

/// Level-up actions through Discord's REST API (rate limits, retries and the invalid-request
/// budget are the client's).
public struct RESTLevelUpActions: LevelUpActions {
    public let client: DiscordRESTClient

    public init(client: DiscordRESTClient) {
        self.client = client
    }

    public func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
        try await client.addRole(role, to: user, in: guild, reason: "Level reward")
    }

    public func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {
        try await client.removeRole(role, from: user, in: guild, reason: "Level reward replaced by a higher one")
    }

    public func announce(level: Int, of user: UserID, in channel: ChannelID) async throws(RESTError) {
        let message = MessageCreate(
            content: "GG <@\(user.rawValue)>, you just reached level **\(level)**!",
            allowedMentions: AllowedMentions(parse: [], users: [user.description]))
        _ = try await client.createMessage(in: channel, message)
    }
}
