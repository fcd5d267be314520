import DiscordModels

/// Reactions on messages the traffic posted earlier, and their removal (one at a time, or cleared).
extension TrafficGenerator {
    static let emojis: [StaticString] = ["👍", "⭐", "❤️", "😂", "🔥"]
    /// The same emoji as strings, for the ground truth.
    public static let emojiNames = ["👍", "⭐", "❤️", "😂", "🔥"]

    /// A member reacts to a recent message; nil until there is one, or when the pick turned up
    /// nobody who may react.
    mutating func reactionAdd(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentMessages.items.isEmpty else { return nil }
        let message = recentMessages.items[random.below(recentMessages.items.count)]
        let guild = world.guilds[message.guild]
        // Read Message History always, Add Reactions for a reaction no one placed yet on Discord;
        // the traffic asks for both every time (fewer reactions in a locked channel, none wrong).
        guard let picked = pickActingMember(of: message.guild),
              may(picked, [.viewChannel, .addReactions, .readMessageHistory], in: message.parent ?? message.channel, guildAt: message.guild)
        else { return nil }
        let giver = picked.user
        let emoji = random.below(Self.emojis.count)
        // One reaction per user, emoji and message, as on Discord.
        guard placedReactions.insert(PlacedReaction(message: message.id, giver: giver, emoji: emoji)).inserted else { return nil }
        if placedReactions.count > 8 * recentMessages.capacity, let oldest = recentMessages.items.map(\.id).min() {
            placedReactions = placedReactions.filter { $0.message >= oldest }
        }
        recentReactions.append(RecentReaction(message: message, giver: giver, emoji: emoji))
        json.raw(#"{"user_id":"#)
        json.id(user(at: giver).id)
        json.raw(#","type":0,"message_id":"#)
        json.id(message.id)
        json.raw(#","message_author_id":"#)
        json.id(user(at: message.author).id)
        json.raw(#","member":"#)
        member(picked, in: message.guild, withUser: true, into: &json)
        json.raw(#","emoji":{"name":""#)
        json.raw(Self.emojis[emoji])
        json.raw(#"","id":null},"channel_id":"#)
        json.id(message.channel)
        json.raw(#","burst":false,"guild_id":"#)
        json.id(guild.id)
        json.raw(#","burst_colors":[]}"#)
        return GeneratedEvent(name: "MESSAGE_REACTION_ADD", data: json.bytes, guild: guild.id, fact: reactionFact(message, giver, emoji, added: true))
    }

    /// A reaction added earlier is taken back; nil until there is one.
    mutating func reactionRemove(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentReactions.items.isEmpty else { return nil }
        let reaction = recentReactions.remove(at: random.below(recentReactions.items.count))
        placedReactions.remove(PlacedReaction(message: reaction.message.id, giver: reaction.giver, emoji: reaction.emoji))
        let guild = world.guilds[reaction.message.guild]
        json.raw(#"{"user_id":"#)
        json.id(user(at: reaction.giver).id)
        json.raw(#","type":0,"message_id":"#)
        json.id(reaction.message.id)
        json.raw(#","emoji":{"name":""#)
        json.raw(Self.emojis[reaction.emoji])
        json.raw(#"","id":null},"channel_id":"#)
        json.id(reaction.message.channel)
        json.raw(#","burst":false,"guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        return GeneratedEvent(
            name: "MESSAGE_REACTION_REMOVE", data: json.bytes, guild: guild.id,
            fact: reactionFact(reaction.message, reaction.giver, reaction.emoji, added: false))
    }

    /// A moderator clears a recent message's reactions, all of them or one emoji's: Discord sends
    /// one event naming no user (MESSAGE_REACTION_REMOVE_ALL, _EMOJI), whatever the message had;
    /// nil until there is a message. A recent one: ``placedReactions`` holds all of its reactions.
    mutating func reactionsCleared(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentMessages.items.isEmpty else { return nil }
        let message = recentMessages.items[random.below(recentMessages.items.count)]
        let emoji: Int? = random.chance(50) ? random.below(Self.emojis.count) : nil
        func cleared(_ id: MessageID, _ reactionEmoji: Int) -> Bool { id == message.id && (emoji == nil || reactionEmoji == emoji) }
        let removed = placedReactions.filter { cleared($0.message, $0.emoji) }
        placedReactions.subtract(removed)
        recentReactions.removeAll { cleared($0.message.id, $0.emoji) }
        let guild = world.guilds[message.guild]
        json.raw(#"{"message_id":"#)
        json.id(message.id)
        if let emoji {
            json.raw(#","emoji":{"name":""#)
            json.raw(Self.emojis[emoji])
            json.raw(#"","id":null}"#)
        }
        json.raw(#","channel_id":"#)
        json.id(message.channel)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        return GeneratedEvent(
            name: emoji == nil ? "MESSAGE_REACTION_REMOVE_ALL" : "MESSAGE_REACTION_REMOVE_EMOJI", data: json.bytes, guild: guild.id,
            fact: .reactionsCleared(removed.map { reactionFact(message, $0.giver, $0.emoji, added: false) }))
    }

    private func reactionFact(_ message: RecentMessage, _ giver: Int, _ emoji: Int, added: Bool) -> TrafficFact {
        let giverUser = user(at: giver)
        let receiver = user(at: message.author)
        return .reaction(
            guild: world.guilds[message.guild].id, giver: giverUser.id, receiver: receiver.id, emoji: Self.emojiNames[emoji],
            added: added, giverIsBot: giverUser.isBot, receiverIsBot: receiver.isBot)
    }
}
