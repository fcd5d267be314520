/// A Discord ID: 64 bits holding a millisecond timestamp since the Discord epoch, a worker,
/// a process and an increment. Typed by what it names, so a user ID cannot be passed as a guild ID.
public struct Snowflake<Tag>: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// 2015-01-01T00:00:00Z, in Unix milliseconds.
    public static var discordEpochMilliseconds: UInt64 { 1_420_070_400_000 }

    public let rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// A snowflake created at `unixMilliseconds`.
    public init(unixMilliseconds: UInt64, worker: UInt64 = 0, process: UInt64 = 0, increment: UInt64 = 0) {
        precondition(unixMilliseconds >= Self.discordEpochMilliseconds, "a snowflake cannot predate 2015")
        rawValue = (unixMilliseconds - Self.discordEpochMilliseconds) << 22
            | (worker & 0x1F) << 17 | (process & 0x1F) << 12 | (increment & 0xFFF)
    }

    /// When the ID was created, in Unix milliseconds — an account's age comes from its user ID.
    public var unixMilliseconds: UInt64 { (rawValue >> 22) + Self.discordEpochMilliseconds }

    /// Discord sends IDs as decimal strings.
    public var description: String { String(rawValue) }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum GuildTag {}
public enum ChannelTag {}
public enum UserTag {}
public enum RoleTag {}
public enum MessageTag {}

public typealias GuildID = Snowflake<GuildTag>
public typealias ChannelID = Snowflake<ChannelTag>
public typealias UserID = Snowflake<UserTag>
public typealias RoleID = Snowflake<RoleTag>
public typealias MessageID = Snowflake<MessageTag>
