import DiscordModels
import Foundation

/// Messages: in guild channels and DMs, and as answers to interactions (callback and follow-ups).
extension SimulatedAPI {
    func createMessage(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        let channelID = try snowflake(route, "channel.id", ChannelID.self)
        let fields = try object(json)
        try MessageValidation.check(fields)
        // With `enforce_nonce`, a nonce seen in the past few minutes answers with its message.
        let nonce = (fields["enforce_nonce"] as? Bool == true) ? Self.nonce(fields["nonce"]) : nil
        if let nonce, let earlier = nonces.message(in: channelID, nonce: nonce, now: rateLimits.now) {
            return .json(200, earlier)
        }
        let result: Result<(GuildID?, Int, [String: Any], [String: Any]?), DiscordError>? = guilds.withChannel(channelID) { channel, guild in
            Result { () throws(DiscordError) -> (GuildID?, Int, [String: Any], [String: Any]?) in
                if let guild {
                    // Categories, forums and media channels hold no messages of their own.
                    guard ![4, 15, 16].contains(channel.type) else { throw .notATextChannel }
                    let permissions = botPermissions(in: channel, of: guild)
                    guard permissions.contains(.viewChannel) else { throw .missingAccess }
                    guard permissions.contains(.sendMessages) else { throw .missingPermissions }
                } else if let recipient = channel.recipient, !Self.acceptsDirectMessages(recipient) {
                    throw DiscordError(code: 50007, message: "Cannot send messages to this user")
                }
                return (guild?.id, channel.type, message(fields, channel: channelID, guild: guild?.id), guild.map(botMessageMember))
            }
        }
        let created: [String: Any]
        if let result {
            let (guild, channelType, message, member) = try result.get()
            if let guild { broadcast("MESSAGE_CREATE", Self.dispatched(message, channelType: channelType, member: member), guild: guild) }
            created = message
        } else {
            guard let inThread = try createMessage(inThread: channelID, fields) else { throw .unknownChannel }
            created = inThread
        }
        let encoded = Self.encode(created)
        if let nonce { nonces.remember(encoded, in: channelID, nonce: nonce, now: rateLimits.now) }
        return .json(200, encoded)
    }

    /// A message as MESSAGE_CREATE carries it: the REST object and the event's extra fields — the
    /// type of its channel (`channel_type`) and, in a guild, the author's partial `member` (the
    /// REST answer has neither).
    static func dispatched(_ message: [String: Any], channelType: Int, member: [String: Any]?) -> [String: Any] {
        var dispatched = message
        dispatched["channel_type"] = channelType
        if let member { dispatched["member"] = member }
        return dispatched
    }

    /// The bot's member in `guild` as a guild message it sends carries it: without `user` (the
    /// message's `author` is the user), as Discord's MESSAGE_CREATE has it.
    func botMessageMember(_ guild: GuildStates.Guild) -> [String: Any] {
        [
            "roles": [guild.botRole.description], "joined_at": DiscordTimestamp.iso8601(unixMilliseconds: guild.id.unixMilliseconds),
            "deaf": false, "mute": false, "flags": 0, "pending": false, "premium_since": NSNull(), "nick": NSNull(), "avatar": NSNull(),
            "communication_disabled_until": NSNull(),
        ]
    }

    /// A nonce as Discord takes it: a string, or an integer, of 25 characters at most
    /// (``MessageValidation`` refuses longer ones).
    static func nonce(_ value: Any?) -> String? {
        if let text = value as? String { return text }
        if let number = value as? Int { return String(number) }
        return nil
    }

    func createDM(_ json: Any?) throws(DiscordError) -> RESTResponse {
        let fields = try object(json)
        guard let id = (fields["recipient_id"] as? String).flatMap(UInt64.init) ?? (fields["recipient_id"] as? UInt64) else {
            throw .invalidFormBody([("recipient_id", "BASE_TYPE_REQUIRED", "This field is required")])
        }
        guard let user = knownUser(UserID(id)) else { throw .unknownUser }
        let channel = guilds.dmChannel(with: user)
        return .json(200, Self.encode([
            "id": channel.id.description, "type": 1, "last_message_id": NSNull(), "flags": 0, "recipients": [userObject(user)],
        ]))
    }

    /// The initial response to an interaction: once, within the response window.
    func interactionCallback(_ route: RESTRoute, _ json: Any?, query: [URLQueryItem]) throws(DiscordError) -> RESTResponse {
        let id = try snowflake(route, "interaction.id", MessageID.self)
        let fields = try object(json)
        guard let type = fields["type"] as? Int, [4, 5, 6, 7, 8, 9].contains(type) else {
            throw .invalidFormBody([("type", "BASE_TYPE_CHOICES", "Value must be one of {4, 5, 6, 7, 8, 9, 10, 12}.")])
        }
        if type == 4 || type == 7 {
            try MessageValidation.check(fields["data"] as? [String: Any] ?? [:], prefix: "data.")
        }
        let acknowledged: InteractionRegistry.Interaction
        do {
            acknowledged = try interactions.acknowledge(id: id.rawValue, token: route.parameters["interaction.token"] ?? "", at: rateLimits.now)
        } catch .alreadyAcknowledged {
            throw .alreadyAcknowledged
        } catch {
            throw .unknownInteraction
        }
        // The message the response made, kept for edits of `@original`: a new one (4), the
        // component's message updated (7), or the "thinking" one a deferred response shows (5).
        let data = fields["data"] as? [String: Any] ?? [:]
        var responded: [String: Any]?
        if [4, 5, 7].contains(type) {
            var made = message(type == 5 ? ["flags": 128 | ((data["flags"] as? Int ?? 0) & 64)] : data,
                               channel: acknowledged.channel, guild: acknowledged.guild, viaWebhook: true)
            if type == 7, let updated = acknowledged.componentMessage {
                made["id"] = String(updated)
                made["edited_timestamp"] = DiscordTimestamp.iso8601(unixMilliseconds: DiscordTimestamp.nowUnixMilliseconds())
            }
            interactions.keep(Data(Self.encode(made).utf8), as: InteractionRegistry.original, token: acknowledged.token)
            responded = made
        }
        guard Self.isTrue(query.first(where: { $0.name == "with_response" })?.value) else { return .noContent }
        var interaction: [String: Any] = ["id": id.description, "type": InteractionRegistry.type(of: acknowledged)]
        var resource: [String: Any] = ["type": type]
        if type == 5 { interaction["response_message_loading"] = true }
        // "message": "the message created by a CHANNEL_MESSAGE_WITH_SOURCE or UPDATE_MESSAGE".
        if type == 4 || type == 7, let responded {
            interaction["response_message_id"] = responded["id"]
            interaction["response_message_ephemeral"] = ((data["flags"] as? Int ?? 0) & 64) != 0
            resource["message"] = responded
        }
        return .json(200, Self.encode(["interaction": interaction, "resource": resource]))
    }

    /// Follow-up messages with an interaction's token: create, edit (`@original` or one sent), delete.
    func followup(_ route: RESTRoute, _ json: Any?) throws(DiscordError) -> RESTResponse {
        guard route.parameters["application.id"] == String(configuration.applicationID) else { throw .unknownWebhook }
        let token = route.parameters["interaction.token"] ?? ""
        let now = rateLimits.now
        switch route.endpoint {
        case .createFollowup:
            let fields = try object(json)
            try MessageValidation.check(fields)
            var created = message(fields, channel: nil, guild: nil, viaWebhook: true)
            let id = UInt64(created["id"] as? String ?? "") ?? 0
            guard let interaction = interactions.followup(token: token, message: id, creating: true, at: now) else { throw .unknownWebhook }
            created["channel_id"] = interaction.channel.description
            let encoded = Self.encode(created)
            interactions.keep(Data(encoded.utf8), as: id, token: token)
            return .json(200, encoded)
        case .editFollowup:
            let fields = try object(json)
            // Every field of an edit is optional, each checked as when creating.
            try MessageValidation.check(fields, emptyAllowed: true)
            let target = route.parameters["message.id"] == "@original" ? nil : route.snowflake("message.id")
            guard let interaction = interactions.followup(token: token, message: target, creating: false, at: now) else {
                throw .unknownWebhook
            }
            // The message as it was, with what the edit sends replacing it field by field (every
            // field of an edit is optional); one the simulator never kept is made afresh.
            let key = target ?? InteractionRegistry.original
            var edited = interactions.message(key, token: token).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
                ?? message([:], channel: interaction.channel, guild: nil, viaWebhook: true)
            // A null clears a field (to what a new message has).
            let cleared: [String: Any] = ["content": "", "embeds": [Any](), "components": [Any](), "flags": 0, "attachments": [Any]()]
            for (field, empty) in cleared where fields[field] != nil {
                edited[field] = fields[field] is NSNull ? empty : fields[field]
            }
            if let target { edited["id"] = String(target) }
            // Editing the "thinking" message of a deferred response makes it the response.
            if let flags = edited["flags"] as? Int, flags & 128 != 0, fields["flags"] == nil { edited["flags"] = flags & ~128 }
            edited["edited_timestamp"] = DiscordTimestamp.iso8601(unixMilliseconds: DiscordTimestamp.nowUnixMilliseconds())
            let encoded = Self.encode(edited)
            interactions.keep(Data(encoded.utf8), as: key, token: token)
            return .json(200, encoded)
        default:
            let target = route.parameters["message.id"] == "@original" ? nil : route.snowflake("message.id")
            guard interactions.followup(token: token, message: target, creating: false, at: now) != nil else { throw .unknownMessage }
            interactions.keep(nil, as: target ?? InteractionRegistry.original, token: token)
            return .noContent
        }
    }

    /// A message object as Discord returns it, authored by the bot.
    func message(_ fields: [String: Any], channel: ChannelID?, guild: GuildID?, viaWebhook: Bool = false) -> [String: Any] {
        let nowMilliseconds = DiscordTimestamp.nowUnixMilliseconds()
        // A counter, not a random increment: no two messages share an ID.
        let sequence = messageCounter.add(1, ordering: .relaxed).newValue
        let id = MessageID(unixMilliseconds: nowMilliseconds, worker: 11, process: (sequence >> 12) & 0x1F, increment: sequence & 0xFFF)
        var message: [String: Any] = [
            "id": id.description, "type": 0, "content": fields["content"] as? String ?? "", "author": botUserObject,
            "timestamp": DiscordTimestamp.iso8601(unixMilliseconds: nowMilliseconds), "edited_timestamp": NSNull(), "tts": false,
            "mention_everyone": false, "mentions": [Any](), "mention_roles": [Any](), "attachments": [Any](),
            "embeds": fields["embeds"] as? [Any] ?? [], "components": fields["components"] as? [Any] ?? [], "pinned": false,
            "flags": fields["flags"] as? Int ?? 0,
        ]
        if let channel { message["channel_id"] = channel.description }
        if let guild { message["guild_id"] = guild.description }
        // Echoed as sent, in the answer and in MESSAGE_CREATE (Discord's message object).
        if let nonce = fields["nonce"], nonce is String || nonce is Int { message["nonce"] = nonce }
        // Interaction responses and follow-ups are sent through the application's webhook.
        if viaWebhook { message["webhook_id"] = String(configuration.applicationID) }
        return message
    }

    /// One user in ten has closed their DMs to server members (50007), as on any large server.
    static func acceptsDirectMessages(_ user: TrafficWorld.User) -> Bool {
        !user.isBot && (user.id.rawValue >> 22) % 10 != 3
    }
}
