import DiscordModels
import Foundation

/// Member endpoints: roles, get, modify (nickname, timeout), kick, ban, unban, bulk ban — each with
/// Discord's permission and role-hierarchy checks, and the gateway events it causes.
extension SimulatedAPI {
    func changeRole(_ route: RESTRoute, adding: Bool) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        let roleID = try snowflake(route, "role.id", RoleID.self)
        let update: ([String: Any], GuildStates.Member)? = try withGuild(guildID) { guild, _ throws(DiscordError) in
            try require(.manageRoles, in: guild)
            guard var member = guild.members[userID] else { throw .unknownMember }
            guard let role = guild.roles.first(where: { $0.id == roleID }) else { throw .unknownRole }
            guard !role.managed, role.position < guild.botPosition else { throw .missingPermissions }
            let holds = member.roles.contains(roleID)
            guard holds != adding else { return nil }
            if adding { member.roles.append(roleID) } else { member.roles.removeAll { $0 == roleID } }
            guild.members[userID] = member
            return (memberObject(member, guild: guild.id, withGuildID: true), member)
        }
        if let (update, member) = update {
            broadcast("GUILD_MEMBER_UPDATE", update, guild: guildID, change: .updated(member))
        }
        return .noContent
    }

    func getMember(_ route: RESTRoute) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        let member = try withGuild(guildID) { guild, _ throws(DiscordError) in
            guard let member = guild.members[userID] else { throw .unknownMember }
            return memberObject(member, guild: guild.id, withGuildID: false)
        }
        return .json(200, Self.encode(member))
    }

    func modifyMember(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        let fields = try object(json)
        var fieldErrors: [(path: String, code: String, message: String)] = []
        var timeout: String??
        if let value = fields["communication_disabled_until"] {
            if value is NSNull {
                timeout = .some(nil)
            } else if let text = value as? String, let date = Self.parseTimestamp(text) {
                if date.timeIntervalSinceNow > 28 * 86_400 {
                    fieldErrors.append(("communication_disabled_until", "COMMUNICATION_DISABLED_TIMESTAMP_TOO_FAR",
                                        "Timestamp cannot be more than 28 days in the future"))
                }
                // Kept and sent back as Discord writes timestamps (`…T…:….ssssss+00:00`), whatever form it came in.
                timeout = .some(date.timeIntervalSinceNow > 0 ? DiscordTimestamp.iso8601(unixMilliseconds: DiscordTimestamp.unixMilliseconds(of: date)) : nil)
            } else {
                fieldErrors.append(("communication_disabled_until", "DATE_TYPE_PARSE", "Could not parse \(fields["communication_disabled_until"]!). Should be ISO8601."))
            }
        }
        var nick: String??
        if let value = fields["nick"] {
            if value is NSNull {
                nick = .some(nil)
            } else if let text = value as? String, text.unicodeScalars.count <= 32 {
                nick = .some(text.isEmpty ? nil : text)
            } else {
                fieldErrors.append(("nick", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."))
            }
        }
        var roles: [RoleID]?
        if let value = fields["roles"] {
            guard let list = value as? [Any] else { throw .invalidFormBody([("roles", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")]) }
            // A snowflake as a string or a JSON integer, as Discord takes it; anything else is named,
            // not dropped (which would take the member's roles away).
            var ids: [RoleID] = []
            for (index, element) in list.enumerated() {
                if let id = Self.snowflake(element) {
                    ids.append(RoleID(id))
                } else {
                    fieldErrors.append(("roles.\(index)", "NUMBER_TYPE_COERCE", "Value \"\(element)\" is not snowflake."))
                }
            }
            roles = ids
        }
        guard fieldErrors.isEmpty else { throw .invalidFormBody(fieldErrors) }

        let updated = try withGuild(guildID) { guild, _ throws(DiscordError) in
            guard var member = guild.members[userID] else { throw .unknownMember }
            if let nick {
                try require(.manageNicknames, in: guild)
                guard guild.botOutranks(userID) else { throw .missingPermissions }
                member.nick = nick
            }
            if let timeout {
                try require(.moderateMembers, in: guild)
                let targetIsAdmin = guild.ownerID == userID
                    || world.permissions(of: world.guilds[guild.index], roles: member.roles, isOwner: false).contains(.administrator)
                guard guild.botOutranks(userID), !targetIsAdmin else { throw .missingPermissions }
                member.timeoutUntil = timeout
            }
            if let roles {
                try require(.manageRoles, in: guild)
                for role in roles {
                    guard let info = guild.roles.first(where: { $0.id == role }) else { throw .unknownRole }
                    if !member.roles.contains(role), info.managed || info.position >= guild.botPosition { throw .missingPermissions }
                }
                for role in member.roles where !roles.contains(role) {
                    if let info = guild.roles.first(where: { $0.id == role }), info.position >= guild.botPosition { throw .missingPermissions }
                }
                member.roles = roles
            }
            guild.members[userID] = member
            return (memberObject(member, guild: guild.id, withGuildID: false), memberObject(member, guild: guild.id, withGuildID: true), member)
        }
        broadcast("GUILD_MEMBER_UPDATE", updated.1, guild: guildID, change: .updated(updated.2))
        return .json(200, Self.encode(updated.0))
    }

    func kick(_ route: RESTRoute) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        let user = try withGuild(guildID) { guild, _ throws(DiscordError) in
            try require(.kickMembers, in: guild)
            guard let member = guild.members[userID] else { throw .unknownMember }
            guard guild.botOutranks(userID) else { throw .missingPermissions }
            guild.leave(userID)
            return member.user
        }
        broadcast("GUILD_MEMBER_REMOVE", ["guild_id": guildID.description, "user": userObject(user)], guild: guildID, change: .removed(userID))
        return .noContent
    }

    /// `delete_message_seconds` may come in the body (as documented) or the query (as discord.py
    /// sends it); Discord takes both.
    func ban(_ route: RESTRoute, _ json: Any?, query: [URLQueryItem]) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        var fields = try json == nil ? [:] : object(json)
        if fields["delete_message_seconds"] == nil, let value = query.first(where: { $0.name == "delete_message_seconds" })?.value {
            fields["delete_message_seconds"] = Int(value) ?? value
        }
        _ = try deleteMessageSeconds(fields)
        let (user, wasMember) = try withGuild(guildID) { guild, _ throws(DiscordError) in
            try require(.banMembers, in: guild)
            return try banOne(userID, in: &guild)
        }
        let data: [String: Any] = ["guild_id": guildID.description, "user": userObject(user)]
        broadcast([("GUILD_BAN_ADD", data, .banned(userID))] + (wasMember ? [("GUILD_MEMBER_REMOVE", data, .removed(userID))] : []), guild: guildID)
        return .noContent
    }

    func unban(_ route: RESTRoute) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let userID = try snowflake(route, "user.id", UserID.self)
        try withGuild(guildID) { guild, _ throws(DiscordError) in
            try require(.banMembers, in: guild)
            guard guild.bans.removeValue(forKey: userID) != nil else { throw .unknownBan }
        }
        let user = knownUser(userID).map(userObject) ?? ["id": userID.description]
        broadcast("GUILD_BAN_REMOVE", ["guild_id": guildID.description, "user": user], guild: guildID, change: .unbanned(userID))
        return .noContent
    }

    func bulkBan(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        let guildID = try snowflake(route, "guild.id", GuildID.self)
        let fields = try object(json)
        guard let ids = fields["user_ids"] as? [Any] else {
            throw .invalidFormBody([("user_ids", "BASE_TYPE_REQUIRED", "This field is required")])
        }
        guard ids.count <= 200 else { throw .invalidFormBody([("user_ids", "BASE_TYPE_MAX_LENGTH", "Must be 200 or fewer in length.")]) }
        _ = try deleteMessageSeconds(fields)
        let users = ids.map { ($0 as? String).flatMap(UInt64.init).map(UserID.init) }
        let outcome = try withGuild(guildID) { guild, _ throws(DiscordError) in
            try require([.banMembers, .manageGuild], in: guild)
            var banned: [(TrafficWorld.User, Bool)] = []
            var failed: [String] = []
            // An ID already banned (before, or earlier in this list) fails: "could not be banned or
            // were already banned", as Discord documents `failed_users`.
            for (index, id) in users.enumerated() {
                guard let id, guild.bans.index(forKey: id) == nil, let result = try? banOne(id, in: &guild) else {
                    failed.append((ids[index] as? String) ?? "\(ids[index])")
                    continue
                }
                banned.append(result)
            }
            return (banned, failed)
        }
        guard !outcome.0.isEmpty else { throw .bulkBanFailed }
        var events: [(name: String, data: [String: Any], change: TrafficChange?)] = []
        for (user, wasMember) in outcome.0 {
            let data: [String: Any] = ["guild_id": guildID.description, "user": userObject(user)]
            events.append(("GUILD_BAN_ADD", data, .banned(user.id)))
            if wasMember { events.append(("GUILD_MEMBER_REMOVE", data, .removed(user.id))) }
        }
        broadcast(events, guild: guildID)
        return .json(200, Self.encode(["banned_users": outcome.0.map(\.0.id.description), "failed_users": outcome.1]))
    }

    /// Bans one user (a member or not); returns the user and whether they were a member.
    private func banOne(_ userID: UserID, in guild: inout GuildStates.Guild) throws(DiscordError) -> (TrafficWorld.User, Bool) {
        let member = guild.members[userID]
        guard let user = member?.user ?? knownUser(userID) else { throw .unknownUser }
        if member != nil, !guild.botOutranks(userID) { throw .missingPermissions }
        if member == nil, userID == guild.ownerID { throw .missingPermissions }
        guild.leave(userID)
        guild.bans[userID] = .some(nil)
        return (user, member != nil)
    }

    private func deleteMessageSeconds(_ fields: [String: Any]) throws(DiscordError) -> Int {
        guard let value = fields["delete_message_seconds"] else { return 0 }
        guard let seconds = value as? Int else {
            throw .invalidFormBody([("delete_message_seconds", "NUMBER_TYPE_COERCE", "Value \"\(value)\" is not int.")])
        }
        guard (0...604_800).contains(seconds) else {
            throw .invalidFormBody([("delete_message_seconds", "NUMBER_TYPE_MAX", "int value should be less than or equal to 604800.")])
        }
        return seconds
    }
}

extension SimulatedAPI {
    /// A snowflake in a request body: a string of digits, or a JSON integer (not a fraction, not a
    /// Boolean); nil for anything else.
    static func snowflake(_ value: Any) -> UInt64? {
        if let text = value as? String { return UInt64(text) }
        // JSONSerialization gives a Boolean as a `c` number and a fraction as a `d` one.
        guard let number = value as? NSNumber, !["c", "d", "f"].contains(String(cString: number.objCType)) else { return nil }
        return UInt64(number.stringValue)
    }
}
