import DiscordModels

/// Reactions on messages the traffic posted earlier, and their removal (one at a time, or cleared).
extension TrafficGenerator {
    /// The emoji members react with, as a reaction event's `emoji` object: Unicode ones (one in
    /// a skin tone, one with its presentation selector) and a custom emoji.
    static let emojis: [StaticString] = [
        #"{"name":"👍","id":null}"#, #"{"name":"⭐","id":null}"#, #"{"name":"❤️","id":null}"#, #"{"name":"😂","id":null}"#,
        #"{"name":"🔥","id":null}"#, #"{"name":"👍🏽","id":null}"#, #"{"name":"kamii_upvote","id":"1186000000000000001","animated":false}"#,
    ]
    /// The same emoji as the ground truth names them (a custom emoji as `name:id`, as a guild lists it).
    public static let emojiNames = ["👍", "⭐", "❤️", "😂", "🔥", "👍🏽", "kamii_upvote:1186000000000000001"]
    /// One reaction in this many is a super reaction.
    static let superReactionOdds = 10

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
        let isBurst = random.below(Self.superReactionOdds) == 0
        // One reaction per user, emoji and message (and a super one besides), as on Discord.
        guard placedReactions.insert(PlacedReaction(message: message.id, giver: giver, emoji: emoji, isBurst: isBurst)).inserted else { return nil }
        if placedReactions.count > 8 * recentMessages.capacity, let oldest = recentMessages.items.map(\.id).min() {
            placedReactions = placedReactions.filter { $0.message >= oldest }
            if !reactionsUnseenByBot.isEmpty { reactionsUnseenByBot = reactionsUnseenByBot.filter { $0.message >= oldest } }
        }
        let seen = botViews(message.parent ?? message.channel, guildAt: message.guild)
        if !seen { reactionsUnseenByBot.insert(PlacedReaction(message: message.id, giver: giver, emoji: emoji, isBurst: isBurst)) }
        recentReactions.append(RecentReaction(message: message, giver: giver, emoji: emoji, isBurst: isBurst))
        json.raw(#"{"user_id":"#)
        json.id(user(at: giver).id)
        json.raw(isBurst ? #","type":1,"message_id":"# : #","type":0,"message_id":"#)
        json.id(message.id)
        json.raw(#","message_author_id":"#)
        json.id(user(at: message.author).id)
        json.raw(#","member":"#)
        member(picked, in: message.guild, withUser: true, into: &json)
        json.raw(#","emoji":"#)
        json.raw(Self.emojis[emoji])
        json.raw(#","channel_id":"#)
        json.id(message.channel)
        json.raw(isBurst ? #","burst":true,"guild_id":"# : #","burst":false,"guild_id":"#)
        json.id(guild.id)
        json.raw(isBurst ? ##","burst_colors":["#ffcc4d","#f4900c"]}"## : #","burst_colors":[]}"#)
        var event = GeneratedEvent(name: "MESSAGE_REACTION_ADD", data: json.bytes, guild: guild.id, fact: reactionFact(message, giver, emoji, added: true))
        event.botCanView = seen
        return event
    }

    /// A reaction added earlier is taken back; nil until there is one.
    mutating func reactionRemove(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentReactions.items.isEmpty else { return nil }
        let reaction = recentReactions.remove(at: random.below(recentReactions.items.count))
        let placed = PlacedReaction(message: reaction.message.id, giver: reaction.giver, emoji: reaction.emoji, isBurst: reaction.isBurst)
        placedReactions.remove(placed)
        let addWasSeen = reactionsUnseenByBot.isEmpty || reactionsUnseenByBot.remove(placed) == nil
        let guild = world.guilds[reaction.message.guild]
        json.raw(#"{"user_id":"#)
        json.id(user(at: reaction.giver).id)
        json.raw(reaction.isBurst ? #","type":1,"message_id":"# : #","type":0,"message_id":"#)
        json.id(reaction.message.id)
        json.raw(#","emoji":"#)
        json.raw(Self.emojis[reaction.emoji])
        json.raw(#","channel_id":"#)
        json.id(reaction.message.channel)
        json.raw(reaction.isBurst ? #","burst":true,"guild_id":"# : #","burst":false,"guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        let event = GeneratedEvent(
            name: "MESSAGE_REACTION_REMOVE", data: json.bytes, guild: guild.id,
            fact: addWasSeen ? reactionFact(reaction.message, reaction.giver, reaction.emoji, added: false) : .none)
        return visible(event, in: reaction.message.parent ?? reaction.message.channel, guildAt: reaction.message.guild)
    }

    /// A moderator clears a recent message's reactions, all of them or one emoji's: Discord sends
    /// one event naming no user (MESSAGE_REACTION_REMOVE_ALL, _EMOJI), whatever the message had;
    /// nil until there is a message. A recent one: ``placedReactions`` holds all of its reactions.
    mutating func reactionsCleared(into json: inout JSONBytes) -> GeneratedEvent? {
        guard !recentMessages.items.isEmpty else { return nil }
        let message = recentMessages.items[random.below(recentMessages.items.count)]
        let emoji: Int? = random.chance(50) ? random.below(Self.emojis.count) : nil
        func cleared(_ id: MessageID, _ reactionEmoji: Int) -> Bool { id == message.id && (emoji == nil || reactionEmoji == emoji) }
        var removed = placedReactions.filter { cleared($0.message, $0.emoji) }
        placedReactions.subtract(removed)
        if !reactionsUnseenByBot.isEmpty {
            let unseen = reactionsUnseenByBot.intersection(removed)
            reactionsUnseenByBot.subtract(unseen)
            removed.subtract(unseen)
        }
        recentReactions.removeAll { cleared($0.message.id, $0.emoji) }
        let guild = world.guilds[message.guild]
        json.raw(#"{"message_id":"#)
        json.id(message.id)
        if let emoji {
            json.raw(#","emoji":"#)
            json.raw(Self.emojis[emoji])
        }
        json.raw(#","channel_id":"#)
        json.id(message.channel)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        let event = GeneratedEvent(
            name: emoji == nil ? "MESSAGE_REACTION_REMOVE_ALL" : "MESSAGE_REACTION_REMOVE_EMOJI", data: json.bytes, guild: guild.id,
            fact: .reactionsCleared(removed.map { reactionFact(message, $0.giver, $0.emoji, added: false) }))
        return visible(event, in: message.parent ?? message.channel, guildAt: message.guild)
    }

    private func reactionFact(_ message: RecentMessage, _ giver: Int, _ emoji: Int, added: Bool) -> TrafficFact {
        let giverUser = user(at: giver)
        let receiver = user(at: message.author)
        return .reaction(
            guild: world.guilds[message.guild].id, giver: giverUser.id, receiver: receiver.id, emoji: Self.emojiNames[emoji],
            added: added, giverIsBot: giverUser.isBot, receiverIsBot: receiver.isBot)
    }
}
