/// The `intents` bit set a session identifies with: which events it is sent.
public struct GatewayIntents: OptionSet, Sendable, Hashable {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public static let guilds = Self(rawValue: 1 << 0)
    /// Privileged.
    public static let guildMembers = Self(rawValue: 1 << 1)
    public static let guildModeration = Self(rawValue: 1 << 2)
    public static let guildExpressions = Self(rawValue: 1 << 3)
    public static let guildIntegrations = Self(rawValue: 1 << 4)
    public static let guildWebhooks = Self(rawValue: 1 << 5)
    public static let guildInvites = Self(rawValue: 1 << 6)
    public static let guildVoiceStates = Self(rawValue: 1 << 7)
    /// Privileged.
    public static let guildPresences = Self(rawValue: 1 << 8)
    public static let guildMessages = Self(rawValue: 1 << 9)
    public static let guildMessageReactions = Self(rawValue: 1 << 10)
    public static let guildMessageTyping = Self(rawValue: 1 << 11)
    public static let directMessages = Self(rawValue: 1 << 12)
    public static let directMessageReactions = Self(rawValue: 1 << 13)
    public static let directMessageTyping = Self(rawValue: 1 << 14)
    /// Privileged.
    public static let messageContent = Self(rawValue: 1 << 15)
    public static let guildScheduledEvents = Self(rawValue: 1 << 16)
    public static let autoModerationConfiguration = Self(rawValue: 1 << 20)
    public static let autoModerationExecution = Self(rawValue: 1 << 21)
    public static let guildMessagePolls = Self(rawValue: 1 << 24)
    public static let directMessagePolls = Self(rawValue: 1 << 25)

    /// Every bit Discord defines; any other bit in an identify is refused with close code 4013.
    public static let all: Self = [
        .guilds, .guildMembers, .guildModeration, .guildExpressions, .guildIntegrations, .guildWebhooks, .guildInvites,
        .guildVoiceStates, .guildPresences, .guildMessages, .guildMessageReactions, .guildMessageTyping, .directMessages,
        .directMessageReactions, .directMessageTyping, .messageContent, .guildScheduledEvents, .autoModerationConfiguration,
        .autoModerationExecution, .guildMessagePolls, .directMessagePolls,
    ]

    /// The intents an application must be approved for (close code 4014 otherwise).
    public static let privileged: Self = [.guildMembers, .guildPresences, .messageContent]

    /// The intent a dispatch needs to be sent, for the events Kamii's simulator produces.
    public static func required(for event: String) -> Self? {
        switch event {
        case "MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE": .guildMessages
        case "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI": .guildMessageReactions
        case "TYPING_START": .guildMessageTyping
        case "PRESENCE_UPDATE": .guildPresences
        case "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "GUILD_MEMBER_UPDATE": .guildMembers
        case "GUILD_CREATE", "GUILD_DELETE", "GUILD_UPDATE", "CHANNEL_CREATE", "CHANNEL_UPDATE", "CHANNEL_DELETE",
             "GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE", "GUILD_ROLE_DELETE", "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE",
             "THREAD_LIST_SYNC": .guilds
        case "GUILD_BAN_ADD", "GUILD_BAN_REMOVE", "GUILD_AUDIT_LOG_ENTRY_CREATE": .guildModeration
        default: nil
        }
    }
}
