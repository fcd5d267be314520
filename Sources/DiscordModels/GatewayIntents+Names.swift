import Foundation

extension GatewayIntents {
    /// Discord's names for the intent bits, lower-cased (`guild_messages`), for configuration files.
    public static let names: [String: GatewayIntents] = [
        "guilds": .guilds, "guild_members": .guildMembers, "guild_moderation": .guildModeration,
        "guild_expressions": .guildExpressions, "guild_integrations": .guildIntegrations, "guild_webhooks": .guildWebhooks,
        "guild_invites": .guildInvites, "guild_voice_states": .guildVoiceStates, "guild_presences": .guildPresences,
        "guild_messages": .guildMessages, "guild_message_reactions": .guildMessageReactions,
        "guild_message_typing": .guildMessageTyping, "direct_messages": .directMessages,
        "direct_message_reactions": .directMessageReactions, "direct_message_typing": .directMessageTyping,
        "message_content": .messageContent, "guild_scheduled_events": .guildScheduledEvents,
        "auto_moderation_configuration": .autoModerationConfiguration, "auto_moderation_execution": .autoModerationExecution,
        "guild_message_polls": .guildMessagePolls, "direct_message_polls": .directMessagePolls,
    ]

    /// What Kamii needs: guilds, members (joins, roles — privileged), moderation (bans), messages
    /// and reactions. Not message content: XP counts messages, it does not read them.
    public static let kamiiDefault: GatewayIntents = [.guilds, .guildMembers, .guildModeration, .guildMessages, .guildMessageReactions]

    /// Reads `guilds,guild_messages` (names, any case, `GUILD_MESSAGES` too) or a number.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let number = UInt64(trimmed) {
            self.init(rawValue: number)
            return
        }
        var intents: GatewayIntents = []
        for name in trimmed.split(separator: ",") {
            guard let intent = Self.names[name.trimmingCharacters(in: .whitespaces).lowercased()] else { return nil }
            intents.insert(intent)
        }
        guard !intents.isEmpty else { return nil }
        self = intents
    }
}
