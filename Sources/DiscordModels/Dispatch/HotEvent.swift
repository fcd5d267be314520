/// The dispatches Kamii's hot path acts on. Every other event type is passed over by name,
/// without reading its payload.
public enum HotEvent: Sendable, Equatable, CaseIterable {
    case messageCreate
    case memberAdd
    case memberUpdate
    case memberRemove
    case reactionAdd
    case reactionRemove
    /// A message's reactions cleared (by a moderator, or the message's author): every emoji.
    case reactionRemoveAll
    /// One emoji's reactions cleared from a message.
    case reactionRemoveEmoji

    /// The event's name as Discord sends it in `t`.
    public var name: String {
        switch self {
        case .messageCreate: "MESSAGE_CREATE"
        case .reactionAdd: "MESSAGE_REACTION_ADD"
        case .reactionRemove: "MESSAGE_REACTION_REMOVE"
        case .reactionRemoveAll: "MESSAGE_REACTION_REMOVE_ALL"
        case .reactionRemoveEmoji: "MESSAGE_REACTION_REMOVE_EMOJI"
        case .memberAdd: "GUILD_MEMBER_ADD"
        case .memberUpdate: "GUILD_MEMBER_UPDATE"
        case .memberRemove: "GUILD_MEMBER_REMOVE"
        }
    }

    /// The hot event whose name these bytes are (unescaped), or nil. Told apart by length first:
    /// every dispatch passes here, most of them one of these names.
    public init?(name bytes: UnsafeRawBufferPointer) {
        let candidate: HotEvent
        switch bytes.count {
        case 14: candidate = .messageCreate
        case 16: candidate = .memberAdd
        case 19: candidate = bytes[13] == UInt8(ascii: "U") ? .memberUpdate : .memberRemove
        case 20: candidate = .reactionAdd
        case 23: candidate = .reactionRemove
        case 27: candidate = .reactionRemoveAll
        case 29: candidate = .reactionRemoveEmoji
        default: return nil
        }
        // The names are literals: their UTF-8 is lent as it is stored, nothing is copied.
        var name = candidate.name
        let matches = name.withUTF8 { utf8 in
            utf8.count == bytes.count && memcmpEqual(bytes.baseAddress!, utf8.baseAddress!, utf8.count)
        }
        guard matches else { return nil }
        self = candidate
    }

    /// The hot event a dispatch name stands for, or nil for an event the hot path ignores.
    public init?(eventName: String) {
        var name = eventName
        guard let event = name.withUTF8({ HotEvent(name: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = event
    }
}

/// The fields Kamii reads from a hot dispatch, found while the envelope is read (one pass over
/// the payload when `t` comes before `d`, as Discord sends it). Offsets are the payload's.
public enum HotFields: Sendable, Equatable {
    case message(MessageCreateFields)
    case member(MemberFields)
    case reaction(ReactionFields)

    /// Reads the `d` object of a hot event at the scanner's position. Nil when a field the event
    /// must have is missing (the object is still consumed).
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public static func read(_ event: HotEvent, _ scanner: inout JSONScanner) throws(JSONScanError) -> HotFields? {
        switch event {
        case .messageCreate: try MessageCreateFields.read(&scanner).map(HotFields.message)
        case .memberAdd, .memberUpdate, .memberRemove: try MemberFields.read(&scanner).map(HotFields.member)
        case .reactionAdd, .reactionRemove: try ReactionFields.read(&scanner).map(HotFields.reaction)
        case .reactionRemoveAll, .reactionRemoveEmoji: try ReactionFields.read(&scanner, needsUser: false).map(HotFields.reaction)
        }
    }

    /// The guild the event concerns.
    public var guildID: UInt64? {
        switch self {
        case .message(let fields): fields.guildID
        case .member(let fields): fields.guildID
        case .reaction(let fields): fields.guildID
        }
    }
}

/// A JSON array of snowflake strings (a member's `roles`) located in the scanned bytes, read only
/// when a rule needs it.
public struct SnowflakeList: Sendable, Equatable {
    /// The array's bytes, brackets included.
    public var range: Range<Int>

    public init(range: Range<Int>) {
        self.range = range
    }

    /// Calls `body` with each ID in the list; `bytes` are the bytes the list was scanned from.
    /// Entries that are not snowflakes are skipped.
    public func forEach(in bytes: UnsafeRawBufferPointer, _ body: (UInt64) -> Void) throws(JSONScanError) {
        var scanner = JSONScanner(UnsafeRawBufferPointer(rebasing: bytes[range]))
        try scanner.forEachElement { scanner throws(JSONScanError) in
            if let id = try scanner.readSnowflake() { body(id) }
        }
    }

    /// Every ID in the list.
    public func ids(in bytes: UnsafeRawBufferPointer) throws(JSONScanError) -> [UInt64] {
        var ids: [UInt64] = []
        try forEach(in: bytes) { ids.append($0) }
        return ids
    }
}
