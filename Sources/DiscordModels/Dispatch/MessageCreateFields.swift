/// What Kamii reads from a MESSAGE_CREATE, in one pass over `d` and without allocating.
///
/// Only `d`'s own members are read: a nested message (`referenced_message`, a thread's starter)
/// carries its own `author`, `id` and `type`, and is skipped whole. Offsets (the role list) are
/// the scanner's: relative to `d` for ``scan(_:)``, to the payload when read on the envelope's pass.
public struct MessageCreateFields: Sendable, Equatable {
    public var id: UInt64
    public var guildID: UInt64?
    public var channelID: UInt64
    public var authorID: UInt64
    public var authorIsBot: Bool
    /// The message was posted by a webhook (`webhook_id` present and not null).
    public var isWebhook: Bool
    /// Discord's message type: 0 default, 19 reply, others are system messages.
    public var type: Int
    /// The author's roles, from `member.roles` (guild messages only).
    public var memberRoles: SnowflakeList?

    public init(
        id: UInt64, guildID: UInt64?, channelID: UInt64, authorID: UInt64, authorIsBot: Bool, isWebhook: Bool, type: Int,
        memberRoles: SnowflakeList?
    ) {
        self.id = id
        self.guildID = guildID
        self.channelID = channelID
        self.authorID = authorID
        self.authorIsBot = authorIsBot
        self.isWebhook = isWebhook
        self.type = type
        self.memberRoles = memberRoles
    }

    /// Scans a MESSAGE_CREATE's `d` object.
    /// - Throws: ``JSONScanError`` when the bytes are not JSON or a required field (`id`,
    ///   `channel_id`, `author.id`) is missing or not a snowflake.
    public static func scan(_ data: UnsafeRawBufferPointer) throws(JSONScanError) -> MessageCreateFields {
        var scanner = JSONScanner(data)
        let fields = try read(&scanner)
        try scanner.expectEnd()
        guard let fields else { throw scanner.error("MESSAGE_CREATE without a message id, channel_id or author.id") }
        return fields
    }

    /// Reads the `d` object at the scanner's position; offsets are the scanner's. Nil when a
    /// required field is missing (the object is still consumed).
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public static func read(_ scanner: inout JSONScanner) throws(JSONScanError) -> MessageCreateFields? {
        var id: UInt64?
        var guildID: UInt64?
        var channelID: UInt64?
        var author: (id: UInt64?, isBot: Bool) = (nil, false)
        var isWebhook = false
        var type = 0
        var roles: SnowflakeList?
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "id" {
                id = try scanner.readSnowflake()
            } else if key == "guild_id" {
                guildID = try scanner.readSnowflake()
            } else if key == "channel_id" {
                channelID = try scanner.readSnowflake()
            } else if key == "type" {
                // A type that is not an integer is no type Kamii knows: not a member's message.
                type = try scanner.readLenientInteger() ?? -1
            } else if key == "webhook_id" {
                // The last value counts, as in any JSON parser: a later null clears an earlier ID.
                // Present and not null, whatever its form: a message that says a webhook sent it
                // earns nothing, even if the ID cannot be read.
                isWebhook = try !scanner.readNull()
                if isWebhook { try scanner.skipValue() }
            } else if key == "author" {
                author = try UserFields.scanIdentity(&scanner)
            } else if key == "member" {
                roles = try MemberFields.scanRoles(&scanner)
            } else {
                try scanner.skipValue()
            }
        }
        guard let id, let channelID, let authorID = author.id else { return nil }
        return MessageCreateFields(
            id: id, guildID: guildID, channelID: channelID, authorID: authorID, authorIsBot: author.isBot, isWebhook: isWebhook,
            type: type, memberRoles: roles)
    }
}

/// Reading a user object's few fields Kamii needs.
enum UserFields {
    /// Reads a user object's `id` and `bot`; a null user reads as no id.
    static func scanIdentity(_ scanner: inout JSONScanner) throws(JSONScanError) -> (id: UInt64?, isBot: Bool) {
        let user = try scan(&scanner)
        return (user.id, user.isBot)
    }

    /// Reads a user object's `id`, `bot` and whether it has an `avatar`.
    static func scan(_ scanner: inout JSONScanner) throws(JSONScanError) -> (id: UInt64?, isBot: Bool, hasAvatar: Bool) {
        var result: (id: UInt64?, isBot: Bool, hasAvatar: Bool) = (nil, false, false)
        guard scanner.peekValueStart() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return result
        }
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "id" {
                result.id = try scanner.readSnowflake()
            } else if key == "bot" {
                result.isBot = try scanner.readBool()
            } else if key == "avatar" {
                result.hasAvatar = try !scanner.readNull()
                if result.hasAvatar { try scanner.skipValue() }
            } else {
                try scanner.skipValue()
            }
        }
        return result
    }
}
