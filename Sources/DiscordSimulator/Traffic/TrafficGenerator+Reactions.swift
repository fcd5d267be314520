import DiscordModels

/// Reactions on messages the traffic posted earlier, and their removal.
extension TrafficGenerator {
    static let emojis: [StaticString] = ["👍", "⭐", "❤️", "😂", "🔥"]
    /// The same emoji as strings, for the ground truth.
    public static let emojiNames = ["👍", "⭐", "❤️", "😂", "🔥"]

    /// A member reacts to a recent message; nil until there is one.
    mutating func reactionAdd(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentMessages.items.isEmpty else { return nil }
        let message = recentMessages.items[random.below(recentMessages.items.count)]
        let guild = world.guilds[message.guild]
        let picked = pickMember(of: message.guild)
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

    private func reactionFact(_ message: RecentMessage, _ giver: Int, _ emoji: Int, added: Bool) -> TrafficFact {
        let giverUser = user(at: giver)
        let receiver = user(at: message.author)
        return .reaction(
            guild: world.guilds[message.guild].id, giver: giverUser.id, receiver: receiver.id, emoji: Self.emojiNames[emoji],
            added: added, giverIsBot: giverUser.isBot, receiverIsBot: receiver.isBot)
    }
}
