/// What Kamii reads from MESSAGE_REACTION_ADD and MESSAGE_REACTION_REMOVE, in one pass over `d`.
/// REMOVE carries no `message_author_id` and no `member`; REMOVE_ALL and REMOVE_EMOJI carry no user
/// either (``userID`` 0), and REMOVE_ALL no emoji. Offsets (the emoji's name) are the
/// scanner's: relative to `d` for ``scan(_:)``, to the payload when read on the envelope's pass.
public struct ReactionFields: Sendable, Equatable {
    public var guildID: UInt64?
    public var channelID: UInt64
    public var messageID: UInt64
    /// Who reacted; 0 for a clear (REMOVE_ALL, REMOVE_EMOJI).
    public var userID: UInt64
    /// Who wrote the message reacted to (ADD only).
    public var messageAuthorID: UInt64?
    /// Whether the reacting member is a bot, from `member.user.bot` (ADD only).
    public var userIsBot: Bool
    /// A custom emoji's ID; nil for a Unicode emoji.
    public var emojiID: UInt64?
    /// The emoji's name: the Unicode emoji itself, or the custom emoji's name.
    public var emojiName: JSONRawString?
    /// A super reaction (`burst`, or `type` 1): a user may have one of each kind with the same emoji
    /// on a message, and removing one leaves the other.
    public var isBurst: Bool

    public init(
        guildID: UInt64?, channelID: UInt64, messageID: UInt64, userID: UInt64, messageAuthorID: UInt64? = nil,
        userIsBot: Bool = false, emojiID: UInt64? = nil, emojiName: JSONRawString? = nil, isBurst: Bool = false
    ) {
        self.guildID = guildID
        self.channelID = channelID
        self.messageID = messageID
        self.userID = userID
        self.messageAuthorID = messageAuthorID
        self.userIsBot = userIsBot
        self.emojiID = emojiID
        self.emojiName = emojiName
        self.isBurst = isBurst
    }

    /// Scans a reaction event's `d` object.
    /// - Throws: ``JSONScanError`` when the bytes are not JSON or `user_id`, `message_id` or
    ///   `channel_id` is missing or not a snowflake.
    public static func scan(_ data: UnsafeRawBufferPointer) throws(JSONScanError) -> ReactionFields {
        var scanner = JSONScanner(data)
        let fields = try read(&scanner)
        try scanner.expectEnd()
        guard let fields else { throw scanner.error("reaction without a user_id, message_id or channel_id") }
        return fields
    }

    /// Reads the `d` object at the scanner's position; offsets are the scanner's. Nil when a
    /// required field is missing (the object is still consumed): `user_id` is one unless
    /// `needsUser` is false (a clear names no user).
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public static func read(_ scanner: inout JSONScanner, needsUser: Bool = true) throws(JSONScanError) -> ReactionFields? {
        var guildID: UInt64?
        var channelID: UInt64?
        var messageID: UInt64?
        var userID: UInt64?
        var messageAuthorID: UInt64?
        var userIsBot = false
        var emoji: (id: UInt64?, name: JSONRawString?) = (nil, nil)
        // Either says a super reaction; a key given twice counts as given last, as in any JSON parser.
        var (burst, type) = (false, false)
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "guild_id" {
                guildID = try scanner.readSnowflake()
            } else if key == "channel_id" {
                channelID = try scanner.readSnowflake()
            } else if key == "message_id" {
                messageID = try scanner.readSnowflake()
            } else if key == "user_id" {
                userID = try scanner.readSnowflake()
            } else if key == "message_author_id" {
                messageAuthorID = try scanner.readSnowflake()
            } else if key == "member" {
                userIsBot = try scanMemberIsBot(&scanner)
            } else if key == "emoji" {
                emoji = try scanEmoji(&scanner)
            } else if key == "burst" {
                burst = try scanner.readBool()
            } else if key == "type" {
                type = try scanner.readLenientInteger() == 1
            } else {
                try scanner.skipValue()
            }
        }
        guard userID != nil || !needsUser, let messageID, let channelID else { return nil }
        return ReactionFields(
            guildID: guildID, channelID: channelID, messageID: messageID, userID: userID ?? 0, messageAuthorID: messageAuthorID,
            userIsBot: userIsBot, emojiID: emoji.id, emojiName: emoji.name, isBurst: burst || type)
    }

    /// Whether the emoji is `name` (a Unicode emoji, or a custom emoji's `name:id` or bare name).
    /// A custom emoji given as `name:id` is known by its ID alone: a reaction removed after the
    /// emoji was deleted (its name null) or renamed still matches. A Unicode emoji matches in any
    /// skin tone and with or without its presentation selector: an admin who lists 👍 or ❤ means
    /// 👍🏽 and ❤️ too.
    public func emojiMatches(_ name: String, in data: UnsafeRawBufferPointer) -> Bool {
        if let emojiID, let colon = name.lastIndex(of: ":"), UInt64(name[name.index(after: colon)...]) == emojiID { return true }
        guard let emojiName, let decoded = try? emojiName.decode(in: data) else { return false }
        guard let emojiID else { return decoded == name || Self.sameEmojiInAnyVariant(decoded, name) }
        return name == decoded || name == "\(decoded):\(emojiID)"
    }

    /// The two texts with skin-tone modifiers (U+1F3FB–U+1F3FF) and variation selectors (U+FE0E,
    /// U+FE0F) left out are the same scalars.
    static func sameEmojiInAnyVariant(_ left: String, _ right: String) -> Bool {
        func isVariant(_ scalar: Unicode.Scalar) -> Bool {
            (0x1F3FB...0x1F3FF).contains(scalar.value) || scalar.value == 0xFE0E || scalar.value == 0xFE0F
        }
        let base = left.unicodeScalars.lazy.filter { !isVariant($0) }
        return !base.isEmpty && base.elementsEqual(right.unicodeScalars.lazy.filter { !isVariant($0) })
    }

    private static func scanMemberIsBot(_ scanner: inout JSONScanner) throws(JSONScanError) -> Bool {
        guard scanner.peekValueStart() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return false
        }
        var isBot = false
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "user" {
                isBot = try UserFields.scanIdentity(&scanner).isBot
            } else {
                try scanner.skipValue()
            }
        }
        return isBot
    }

    private static func scanEmoji(_ scanner: inout JSONScanner) throws(JSONScanError) -> (id: UInt64?, name: JSONRawString?) {
        var emoji: (id: UInt64?, name: JSONRawString?) = (nil, nil)
        guard scanner.peekValueStart() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return emoji
        }
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "id" {
                emoji.id = try scanner.readSnowflake()
            } else if key == "name" {
                // The last `name` wins, as in a full decode: a later null (or non-string) clears it.
                emoji.name = scanner.peekValueStart() == UInt8(ascii: "\"") ? try scanner.readRawString() : nil
                if emoji.name == nil { try scanner.skipValue() }
            } else {
                try scanner.skipValue()
            }
        }
        return emoji
    }
}
