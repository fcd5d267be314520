import DiscordModels
import Foundation

/// What the endpoints share: path parameters, body shapes, permission checks and the objects
/// Discord answers with.
extension SimulatedAPI {
    var world: TrafficWorld { configuration.world }

    /// A snowflake path parameter; anything else is an invalid form body, as on Discord.
    func snowflake<Tag>(_ route: RESTRoute, _ name: String, _: Snowflake<Tag>.Type) throws(DiscordError) -> Snowflake<Tag> {
        guard let value = route.snowflake(name) else {
            let field = name.replacingOccurrences(of: ".", with: "_")
            throw .invalidFormBody([(field, "NUMBER_TYPE_COERCE", "Value \"\(route.parameters[name] ?? "")\" is not snowflake.")])
        }
        return Snowflake(value)
    }

    /// A boolean query parameter as Discord reads one: true, True or 1.
    static func isTrue(_ value: String?) -> Bool {
        ["true", "True", "1"].contains(value ?? "")
    }

    /// The body as a JSON object.
    func object(_ json: Any?) throws(DiscordError) -> [String: Any] {
        guard let object = json as? [String: Any] else {
            throw .invalidFormBody([("", "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")])
        }
        return object
    }

    /// Runs `body` on a guild's state; an unknown guild is 10004.
    func withGuild<T>(
        _ id: GuildID, _ body: (inout GuildStates.Guild, inout [ChannelID: GuildStates.Channel]) throws(DiscordError) -> T
    ) throws(DiscordError) -> T {
        let result = guilds.withGuild(id) { guild, channels in
            Result { () throws(DiscordError) -> T in try body(&guild, &channels) }
        }
        guard let result else { throw .unknownGuild }
        return try result.get()
    }

    /// The bot's guild-wide permissions.
    func botPermissions(in guild: GuildStates.Guild) -> Permissions {
        world.permissions(of: world.guilds[guild.index], roles: [guild.botRole], isOwner: false)
    }

    /// Throws 50013 unless the bot has `permissions` in the guild.
    func require(_ permissions: Permissions, in guild: GuildStates.Guild) throws(DiscordError) {
        guard botPermissions(in: guild).isSuperset(of: permissions) else { throw .missingPermissions }
    }

    /// The bot's permissions in a channel: guild permissions, then the `@everyone`, role and member
    /// overwrites, in Discord's order.
    func botPermissions(in channel: GuildStates.Channel, of guild: GuildStates.Guild) -> Permissions {
        GuildStates.Overwrite.apply(channel.overwrites, to: botPermissions(in: guild), guild: guild.id, roles: [guild.botRole], user: configuration.botUserID)
    }

    /// A user the simulator knows: one of the world's, or a member (raiders are known once they joined).
    func knownUser(_ id: UserID) -> TrafficWorld.User? {
        world.userIndex(of: id).map { world.users[$0] }
    }

    func userObject(_ user: TrafficWorld.User) -> [String: Any] {
        var object: [String: Any] = [
            "id": user.id.description, "username": user.username, "global_name": user.username, "discriminator": "0",
            "avatar": user.avatar ?? NSNull(), "public_flags": 0,
        ]
        if user.isBot { object["bot"] = true }
        return object
    }

    func memberObject(_ member: GuildStates.Member, guild: GuildID, withGuildID: Bool) -> [String: Any] {
        var object: [String: Any] = [
            "user": userObject(member.user), "roles": member.roles.map(\.description), "nick": member.nick ?? NSNull(),
            "joined_at": DiscordTimestamp.iso8601(unixMilliseconds: member.joinedAt), "deaf": false, "mute": false, "flags": member.flags,
            "pending": member.pending, "premium_since": NSNull(), "avatar": NSNull(),
            "communication_disabled_until": member.timeoutUntil ?? NSNull(),
        ]
        if withGuildID { object["guild_id"] = guild.description }
        return object
    }

    var botUserObject: [String: Any] {
        [
            "id": configuration.botUserID.description, "username": configuration.botUsername, "global_name": NSNull(),
            "discriminator": "0", "avatar": NSNull(), "public_flags": 0, "bot": true,
        ]
    }

    /// An ISO 8601 timestamp with or without fractional seconds.
    static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }
}
