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
            let permissions = botPermissions(in: guild)
            try require(.manageChannels, in: guild)
            // A bot cannot grant in an overwrite what it does not have itself.
            if !permissions.contains(.administrator), overwrites.contains(where: { $0.allow & ~permissions.rawValue != 0 }) {
                throw .missingPermissions
            }
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
        let channel = try onGuildChannel(channelID) { channel, guild throws(DiscordError) in
            guard botPermissions(in: channel, of: guild).contains(.manageChannels) else { throw .missingPermissions }
            if let overwrites {
                // Overwrites need Manage Roles, and cannot grant what the bot lacks.
                let permissions = botPermissions(in: guild)
                guard permissions.contains(.manageRoles) || permissions.contains(.administrator) else { throw .missingPermissions }
                if !permissions.contains(.administrator), overwrites.contains(where: { $0.allow & ~permissions.rawValue != 0 }) {
                    throw .missingPermissions
                }
            }
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
            guard botPermissions(in: channel, of: guild).contains(.manageChannels) else { throw .missingPermissions }
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
            throw .invalidFormBody([("_errors", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")])
        }
        var guildID: GuildID?
        if route.endpoint == .overwriteGuildCommands {
            let id = try snowflake(route, "guild.id", GuildID.self)
            guard world.guildIndex(of: id) != nil else { throw .unknownGuild }
            guildID = id
        }
        guard list.count <= 100 else { throw .invalidFormBody([("_errors", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")]) }
        var errors: [MessageValidation.FieldError] = []
        var seen = Set<String>()
        for (index, command) in list.enumerated() {
            let name = command["name"] as? String ?? ""
            let type = command["type"] as? Int ?? 1
            let valid = (1...32).contains(name.count) && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || (type != 1 && $0 == " ") }
            if !valid || (type == 1 && name != name.lowercased()) {
                errors.append(("\(index).name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
            }
            let description = command["description"] as? String ?? ""
            if type == 1, !(1...100).contains(description.count) {
                errors.append(("\(index).description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
            }
            if !seen.insert("\(type):\(name)").inserted {
                errors.append(("\(index).name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"))
            }
        }
        guard errors.isEmpty else { throw .invalidFormBody(errors) }
        let stored = commands.replace(list, guild: guildID, applicationID: configuration.applicationID)
        return .json(200, Self.encode(stored))
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
        guard let name = value as? String, (1...100).contains(name.count) else {
            throw .invalidFormBody([("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")])
        }
        return name
    }

    static func overwrites(_ value: Any?) throws(DiscordError) -> [GuildStates.Overwrite]? {
        guard let value else { return nil }
        guard let list = value as? [[String: Any]] else {
            throw .invalidFormBody([("permission_overwrites", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")])
        }
        var result: [GuildStates.Overwrite] = []
        for (index, item) in list.enumerated() {
            func number(_ key: String) -> UInt64? {
                if let text = item[key] as? String { return UInt64(text) }
                return (item[key] as? NSNumber)?.uint64Value
            }
            guard let id = number("id"), let type = item["type"] as? Int, type == 0 || type == 1 else {
                throw .invalidFormBody([("permission_overwrites.\(index)", "BASE_TYPE_REQUIRED", "id and type (0 or 1) are required")])
            }
            result.append(GuildStates.Overwrite(id: id, type: type, allow: number("allow") ?? 0, deny: number("deny") ?? 0))
        }
        return result
    }
}
