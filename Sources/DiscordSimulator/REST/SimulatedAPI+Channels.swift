import DiscordModels
import Foundation

/// Channels with permission overwrites, and application commands.
extension SimulatedAPI {
    func createChannel(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let fields = try object(json)
        let name = try channelName(fields, required: true)!
        let type = fields["type"] as? Int ?? 0
        guard [0, 2, 4, 5, 13, 15].contains(type) else {
            throw .invalidFormBody([("type", "BASE_TYPE_CHOICES", "Value must be one of {0, 2, 4, 5, 13, 15, 16}.")])
        }
        let overwrites = try Self.overwrites(fields["permission_overwrites"]) ?? []
        let id = guilds.makeChannelID()
        let channel = try withGuild(guildID) { guild, channels throws(DiscordError) in
            try require(.manageChannels, in: guild)
            guard mayCreateChannel(with: overwrites, in: guild) else { throw .missingPermissions }
            let channel = GuildStates.Channel(
                id: id, guild: guildID, name: name, type: type, position: guild.channels.count, parentID: (fields["parent_id"] as? String).flatMap(UInt64.init),
                topic: fields["topic"] as? String, overwrites: overwrites, recipient: nil)
            guild.channels.insert(id)
            channels[id] = channel
            return channel
        }
        let object = channelObject(channel)
        broadcast("CHANNEL_CREATE", object, guild: guildID, change: .channelCreated(channel.id, type: channel.type, overwrites: channel.overwrites))
        return .json(201, Self.encode(object))
    }

    func modifyChannel(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        let channelID = try snowflake(route, "channel.id", ChannelID.self)
        let fields = try object(json)
        let name = try channelName(fields, required: false)
        let overwrites = try Self.overwrites(fields["permission_overwrites"])
        // REST changes run one at a time (`SessionRegistry.inChangeOrder`): the parent cannot change in between.
        let parent = guilds.withChannel(channelID) { channel, _ in channel.parentID }.flatMap { $0 }
        let inParent = parent.flatMap { id in
            guilds.withChannel(ChannelID(id)) { parent, guild in guild.map { botPermissions(in: parent, of: $0) } }
        }.flatMap { $0 }
        let channel = try onGuildChannel(channelID) { channel, guild throws(DiscordError) in
            let permissions = botPermissions(in: channel, of: guild)
            guard permissions.contains(.viewChannel) else { throw .missingAccess }
            guard permissions.contains(.manageChannels) else { throw .missingPermissions }
            if let overwrites, !mayModify(channel, overwrites: overwrites, in: guild, inParent: inParent) { throw .missingPermissions }
            if let name { channel.name = name }
            if let topic = fields["topic"] { channel.topic = topic as? String }
            if let overwrites { channel.overwrites = overwrites }
            if let position = fields["position"] as? Int { channel.position = position }
            return channel
        }
        let object = channelObject(channel)
        broadcast("CHANNEL_UPDATE", object, guild: channel.guild!, change: .channelUpdated(channel.id, overwrites: channel.overwrites))
        return .json(200, Self.encode(object))
    }

    func deleteChannel(_ route: RESTRoute) throws(DiscordError) -> RESTResponse {
        let channelID = try snowflake(route, "channel.id", ChannelID.self)
        let channel = try onGuildChannel(channelID) { channel, guild throws(DiscordError) in
            let permissions = botPermissions(in: channel, of: guild)
            guard permissions.contains(.viewChannel) else { throw .missingAccess }
            guard permissions.contains(.manageChannels) else { throw .missingPermissions }
            guild.channels.remove(channelID)
            return channel
        }
        let object = channelObject(channel)
        broadcast("CHANNEL_DELETE", object, guild: channel.guild!, change: .channelDeleted(channelID))
        return .json(200, Self.encode(object))
    }

    /// Replaces the application's commands (global, or one guild's) and returns them with IDs.
    func overwriteCommands(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        guard route.parameters["application.id"] == String(configuration.applicationID) else { throw .missingAccess }
        guard let list = json as? [[String: Any]] else {
            throw .invalidFormBody([("", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")])
        }
        var guildID: GuildID?
        if route.endpoint == .overwriteGuildCommands {
            let id = try snowflake(route, "guild.id", GuildID.self)
            guard world.guildIndex(of: id) != nil else { throw .unknownGuild }
            guildID = id
        }
        try CommandValidation.check(list, global: guildID == nil)
        let stored = commands.replace(list, guild: guildID, applicationID: configuration.applicationID)
        return .json(200, Self.encode(stored))
    }

    /// A guild's admin sets a channel's permission overwrites in Discord's client (a world event,
    /// not the bot's call: no permission of the bot's is checked). False for an unknown channel.
    func adminSetsOverwrites(of channelID: ChannelID, to overwrites: [GuildStates.Overwrite]) -> Bool {
        sessions.inChangeOrder { () -> Bool in
            guard let channel = try? onGuildChannel(channelID, { channel, _ throws(DiscordError) in
                channel.overwrites = overwrites
                return channel
            }) else { return false }
            broadcast("CHANNEL_UPDATE", channelObject(channel), guild: channel.guild!, change: .channelUpdated(channel.id, overwrites: overwrites))
            return true
        }
    }

    func channelObject(_ channel: GuildStates.Channel) -> [String: Any] {
        var object: [String: Any] = [
            "id": channel.id.description, "type": channel.type, "name": channel.name, "position": channel.position,
            "parent_id": channel.parentID.map(String.init) ?? NSNull(), "topic": channel.topic ?? NSNull(), "nsfw": false,
            "last_message_id": NSNull(), "rate_limit_per_user": 0, "flags": 0,
            "permission_overwrites": channel.overwrites.map {
                ["id": String($0.id), "type": $0.type, "allow": String($0.allow), "deny": String($0.deny)] as [String: Any]
            },
        ]
        if let guild = channel.guild { object["guild_id"] = guild.description }
        return object
    }

    private func onGuildChannel<T>(
        _ id: ChannelID, _ body: (inout GuildStates.Channel, inout GuildStates.Guild) throws(DiscordError) -> T
    ) throws(DiscordError) -> T {
        let result = guilds.withChannel(id) { channel, guild in
            Result { () throws(DiscordError) -> T in
                guard var known = guild else { throw DiscordError(code: 50003, message: "Cannot execute action on a DM channel") }
                defer { guild = known }
                return try body(&channel, &known)
            }
        }
        guard let result else { throw .unknownChannel }
        return try result.get()
    }

    private func channelName(_ fields: [String: Any], required: Bool) throws(DiscordError) -> String? {
        guard let value = fields["name"] else {
            if required { throw .invalidFormBody([("name", "BASE_TYPE_REQUIRED", "This field is required")]) }
            return nil
        }
        guard let name = value as? String, (1...100).contains(name.unicodeScalars.count) else {
            throw .invalidFormBody([("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")])
        }
        return name
    }
}
