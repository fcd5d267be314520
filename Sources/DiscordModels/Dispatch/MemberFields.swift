/// What Kamii reads from GUILD_MEMBER_ADD, GUILD_MEMBER_UPDATE and GUILD_MEMBER_REMOVE, in one
/// pass over `d`. REMOVE carries only `guild_id` and `user`; the other fields then keep their
/// defaults. Offsets (the role list) are the scanner's: relative to `d` for ``scan(_:)``, to the
/// payload when read on the envelope's pass.
public struct MemberFields: Sendable, Equatable {
    public var guildID: UInt64
    public var userID: UInt64
    public var userIsBot: Bool
    /// The account has an avatar of its own (`user.avatar` is not null).
    public var hasAvatar: Bool
    public var roles: SnowflakeList?
    /// When the member joined, Unix milliseconds, from `joined_at`.
    public var joinedAtMilliseconds: Int64?
    /// The member has not yet passed membership screening; nil when the event did not say
    /// (`pending` absent or not a boolean), which leaves what is known of the member as it was.
    public var isPending: Bool?

    public init(
        guildID: UInt64, userID: UInt64, userIsBot: Bool = false, hasAvatar: Bool = false, roles: SnowflakeList? = nil,
        joinedAtMilliseconds: Int64? = nil, isPending: Bool? = nil
    ) {
        self.guildID = guildID
        self.userID = userID
        self.userIsBot = userIsBot
        self.hasAvatar = hasAvatar
        self.roles = roles
        self.joinedAtMilliseconds = joinedAtMilliseconds
        self.isPending = isPending
    }

    /// Scans a member event's `d` object.
    /// - Throws: ``JSONScanError`` when the bytes are not JSON or `guild_id` or `user.id` is
    ///   missing or not a snowflake.
    public static func scan(_ data: UnsafeRawBufferPointer) throws(JSONScanError) -> MemberFields {
        var scanner = JSONScanner(data)
        let fields = try read(&scanner)
        try scanner.expectEnd()
        guard let fields else { throw scanner.error("member event without a guild_id or user.id") }
        return fields
    }

    /// Reads the `d` object at the scanner's position; offsets are the scanner's. Nil when
    /// `guild_id` or `user.id` is missing (the object is still consumed).
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public static func read(_ scanner: inout JSONScanner) throws(JSONScanError) -> MemberFields? {
        var guildID: UInt64?
        var user: (id: UInt64?, isBot: Bool, hasAvatar: Bool) = (nil, false, false)
        var roles: SnowflakeList?
        var joinedAt: Int64?
        var isPending: Bool?
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "guild_id" {
                guildID = try scanner.readSnowflake()
            } else if key == "user" {
                user = try UserFields.scan(&scanner)
            } else if key == "roles" {
                roles = try scanRoleList(&scanner)
            } else if key == "joined_at" {
                joinedAt = try scanTimestamp(&scanner)
            } else if key == "pending" {
                isPending = try scanner.readOptionalBool()
            } else {
                try scanner.skipValue()
            }
        }
        guard let guildID, let userID = user.id else { return nil }
        return MemberFields(
            guildID: guildID, userID: userID, userIsBot: user.isBot, hasAvatar: user.hasAvatar, roles: roles,
            joinedAtMilliseconds: joinedAt, isPending: isPending)
    }

    /// Reads a member object (as nested in MESSAGE_CREATE) for its `roles`; null reads as none.
    static func scanRoles(_ scanner: inout JSONScanner) throws(JSONScanError) -> SnowflakeList? {
        guard scanner.peekValueStart() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return nil
        }
        var roles: SnowflakeList?
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "roles" {
                roles = try scanRoleList(&scanner)
            } else {
                try scanner.skipValue()
            }
        }
        return roles
    }

    private static func scanRoleList(_ scanner: inout JSONScanner) throws(JSONScanError) -> SnowflakeList? {
        guard scanner.peekValueStart() == UInt8(ascii: "[") else {
            try scanner.skipValue()
            return nil
        }
        return SnowflakeList(range: try scanner.skipValue())
    }

    private static func scanTimestamp(_ scanner: inout JSONScanner) throws(JSONScanError) -> Int64? {
        guard scanner.peekValueStart() == UInt8(ascii: "\"") else {
            try scanner.skipValue()
            return nil
        }
        let raw = try scanner.readRawString()
        guard !raw.hasEscapes else { return nil }
        return scanner.withBytes { DiscordTimestamp.unixMilliseconds(UnsafeRawBufferPointer(rebasing: $0[raw.range])) }
    }
}
