public import DiscordModels

/// The endpoints Kamii calls, typed. Moderation calls take the audit-log reason moderators see.
extension DiscordRESTClient {
    public func gatewayBot() async throws(RESTError) -> GatewayBot {
        try await send(Route(.get, "/gateway/bot")).decode()
    }

    public func currentUser() async throws(RESTError) -> DiscordUser {
        try await send(Route(.get, "/users/@me")).decode()
    }

    public func createMessage(in channel: ChannelID, _ message: MessageCreate) async throws(RESTError) -> Message {
        try await send(Route(.post, "/channels/{channel.id}/messages", ["channel.id": channel.description]), json: message)
    }

    /// The DM channel with a user (Discord answers with the existing one if there is one).
    public func createDM(with user: UserID) async throws(RESTError) -> Channel {
        try await send(Route(.post, "/users/@me/channels"), json: ["recipient_id": user.description])
    }

    public func addRole(_ role: RoleID, to user: UserID, in guild: GuildID, reason: String? = nil) async throws(RESTError) {
        _ = try await send(Route(.put, "/guilds/{guild.id}/members/{user.id}/roles/{role.id}", memberRoleParameters(guild, user, role)), reason: reason)
    }

    public func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID, reason: String? = nil) async throws(RESTError) {
        _ = try await send(Route(.delete, "/guilds/{guild.id}/members/{user.id}/roles/{role.id}", memberRoleParameters(guild, user, role)), reason: reason)
    }

    public func member(_ user: UserID, in guild: GuildID) async throws(RESTError) -> GuildMember {
        try await send(Route(.get, "/guilds/{guild.id}/members/{user.id}", memberParameters(guild, user))).decode()
    }

    /// Times a member out until `until` (ISO 8601, at most 28 days ahead), or lifts it (nil).
    public func timeOut(_ user: UserID, in guild: GuildID, until: String?, reason: String? = nil) async throws(RESTError) -> GuildMember {
        struct Body: Encodable, Sendable {
            let until: String?

            func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                // Encoded even when nil: `null` is what lifts a timeout.
                try container.encode(until, forKey: .until)
            }

            enum CodingKeys: String, CodingKey { case until = "communication_disabled_until" }
        }
        return try await send(Route(.patch, "/guilds/{guild.id}/members/{user.id}", memberParameters(guild, user)), json: Body(until: until), reason: reason)
    }

    public func setNickname(_ nick: String?, of user: UserID, in guild: GuildID, reason: String? = nil) async throws(RESTError) -> GuildMember {
        struct Body: Encodable, Sendable { let nick: String? }
        return try await send(Route(.patch, "/guilds/{guild.id}/members/{user.id}", memberParameters(guild, user)), json: Body(nick: nick), reason: reason)
    }

    public func kick(_ user: UserID, from guild: GuildID, reason: String? = nil) async throws(RESTError) {
        _ = try await send(Route(.delete, "/guilds/{guild.id}/members/{user.id}", memberParameters(guild, user)), reason: reason)
    }

    /// Bans a user (member or not), deleting their messages of the last `deleteMessageSeconds`
    /// (0…604,800).
    public func ban(_ user: UserID, from guild: GuildID, deleteMessageSeconds: Int = 0, reason: String? = nil) async throws(RESTError) {
        let body = Array(#"{"delete_message_seconds":\#(deleteMessageSeconds)}"#.utf8)
        _ = try await send(Route(.put, "/guilds/{guild.id}/bans/{user.id}", memberParameters(guild, user)), body: body, reason: reason)
    }

    public func unban(_ user: UserID, from guild: GuildID, reason: String? = nil) async throws(RESTError) {
        _ = try await send(Route(.delete, "/guilds/{guild.id}/bans/{user.id}", memberParameters(guild, user)), reason: reason)
    }

    /// Bans up to 200 users at once (needs Ban Members and Manage Server).
    public func bulkBan(_ users: [UserID], from guild: GuildID, deleteMessageSeconds: Int = 0, reason: String? = nil) async throws(RESTError) -> BulkBanResult {
        struct Body: Encodable, Sendable {
            let user_ids: [String]
            let delete_message_seconds: Int
        }
        return try await send(
            Route(.post, "/guilds/{guild.id}/bulk-ban", ["guild.id": guild.description]),
            json: Body(user_ids: users.map(\.description), delete_message_seconds: deleteMessageSeconds), reason: reason)
    }

    public func createChannel(
        in guild: GuildID, name: String, type: Int = 0, overwrites: [PermissionOverwrite] = [], reason: String? = nil
    ) async throws(RESTError) -> Channel {
        struct Body: Encodable, Sendable {
            let name: String
            let type: Int
            let permission_overwrites: [PermissionOverwrite]
        }
        return try await send(
            Route(.post, "/guilds/{guild.id}/channels", ["guild.id": guild.description]),
            json: Body(name: name, type: type, permission_overwrites: overwrites), reason: reason)
    }

    public func setOverwrites(of channel: ChannelID, _ overwrites: [PermissionOverwrite], reason: String? = nil) async throws(RESTError) -> Channel {
        struct Body: Encodable, Sendable { let permission_overwrites: [PermissionOverwrite] }
        return try await send(
            Route(.patch, "/channels/{channel.id}", ["channel.id": channel.description]), json: Body(permission_overwrites: overwrites), reason: reason)
    }

    public func deleteChannel(_ channel: ChannelID, reason: String? = nil) async throws(RESTError) {
        _ = try await send(Route(.delete, "/channels/{channel.id}", ["channel.id": channel.description]), reason: reason)
    }

    /// Replaces the application's slash commands, globally or in one guild.
    public func overwriteCommands(
        _ commands: [ApplicationCommand], application: UInt64, guild: GuildID? = nil
    ) async throws(RESTError) -> [ApplicationCommand] {
        let route = guild.map {
            Route(.put, "/applications/{application.id}/guilds/{guild.id}/commands", ["application.id": String(application), "guild.id": $0.description])
        } ?? Route(.put, "/applications/{application.id}/commands", ["application.id": String(application)])
        return try await send(route, json: commands)
    }

    /// The first answer to an interaction (type 4: a message; 5: "thinking…"), within 3 seconds.
    public func respond(toInteraction id: UInt64, token: String, type: Int, message: MessageCreate? = nil) async throws(RESTError) {
        struct Body: Encodable, Sendable {
            let type: Int
            let data: MessageCreate?
        }
        let route = Route(.post, "/interactions/{interaction.id}/{interaction.token}/callback", ["interaction.id": String(id), "interaction.token": token])
        _ = try await send(route, body: encode(Body(type: type, data: message)))
    }

    /// A follow-up message with an interaction's token (after the first answer, for 15 minutes).
    public func followUp(application: UInt64, token: String, _ message: MessageCreate) async throws(RESTError) -> Message {
        try await send(Route(.post, "/webhooks/{application.id}/{interaction.token}", ["application.id": String(application), "interaction.token": token]), json: message)
    }

    private func memberParameters(_ guild: GuildID, _ user: UserID) -> [String: String] {
        ["guild.id": guild.description, "user.id": user.description]
    }

    private func memberRoleParameters(_ guild: GuildID, _ user: UserID, _ role: RoleID) -> [String: String] {
        ["guild.id": guild.description, "user.id": user.description, "role.id": role.description]
    }
}
