/// Discord's permission bits the simulator checks, as the `permissions` strings of roles,
/// interaction members and `/users/@me/guilds` carry them.
public struct Permissions: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let kickMembers = Self(rawValue: 1 << 1)
    public static let banMembers = Self(rawValue: 1 << 2)
    public static let administrator = Self(rawValue: 1 << 3)
    public static let manageChannels = Self(rawValue: 1 << 4)
    public static let manageGuild = Self(rawValue: 1 << 5)
    public static let addReactions = Self(rawValue: 1 << 6)
    public static let viewChannel = Self(rawValue: 1 << 10)
    public static let sendMessages = Self(rawValue: 1 << 11)
    public static let manageMessages = Self(rawValue: 1 << 13)
    public static let embedLinks = Self(rawValue: 1 << 14)
    public static let readMessageHistory = Self(rawValue: 1 << 16)
    public static let manageNicknames = Self(rawValue: 1 << 27)
    public static let manageRoles = Self(rawValue: 1 << 28)
    public static let useApplicationCommands = Self(rawValue: 1 << 31)
    public static let createPublicThreads = Self(rawValue: 1 << 35)
    public static let sendMessagesInThreads = Self(rawValue: 1 << 38)
    public static let moderateMembers = Self(rawValue: 1 << 40)

    /// Every bit Discord defines today (through 1 << 50).
    public static let all = Self(rawValue: (1 << 51) - 1)

    /// What `@everyone` may do in a freshly created community guild.
    public static let everyoneDefault = Self(rawValue: 1_071_698_660_929)
    /// A moderator role: kick, ban, time out and manage messages on top of `@everyone`.
    public static let moderator: Self = [.kickMembers, .banMembers, .moderateMembers, .manageMessages]
    /// What the simulated bot's managed role grants by default: what Kamii's features need, and no
    /// administrator, so permission and hierarchy checks bite.
    public static let botDefault: Self = [
        .kickMembers, .banMembers, .manageChannels, .manageGuild, .viewChannel, .sendMessages, .manageMessages, .embedLinks,
        .readMessageHistory, .manageRoles, .manageNicknames, .moderateMembers, .addReactions,
    ]

    /// The decimal string Discord sends.
    public var jsonString: String { String(rawValue) }
}
