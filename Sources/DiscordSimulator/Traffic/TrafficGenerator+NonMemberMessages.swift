import DiscordModels

/// Messages in a guild that are no member's own: the system message Discord posts in the system
/// channel when a member joins (type 7, its author the newcomer), the one it posts in a channel
/// where a member opened a thread (type 18, its author the opener), and a webhook's (its author the
/// webhook, `bot` true, with `webhook_id`). A bot must count neither as the member's activity nor
/// give XP for them; the ground truth counts them apart (``TrafficFact/notOwnMessage(guild:author:)``).
extension TrafficGenerator {
    /// One message in a few hundred comes from a webhook.
    static let webhookMessageOdds = 300

    /// The join message for a human newcomer not pending screening, posted in the guild's system
    /// channel while it exists; nil otherwise. (Discord greets a screened newcomer once they pass;
    /// the traffic sends none then.)
    mutating func joinMessage(for picked: PickedMember, inGuildAt guildIndex: Int) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        // GUILD_CREATE names the first channel the system channel, flags 0: join messages on.
        guard !identity(of: picked.user).isBot, let system = guild.channels.first, channels(ofGuildAt: guildIndex).contains(system)
        else { return nil }
        var json = JSONBytes()
        messageHead(type: 7, into: &json)
        json.raw(#","member":"#)
        member(picked, in: guildIndex, withUser: false, into: &json)
        messageTail(channel: system, guild: guild.id, into: &json)
        user(picked.user, into: &json)
        json.raw("}")
        let fact = TrafficFact.notOwnMessage(guild: guild.id, author: identity(of: picked.user).id)
        return visible(GeneratedEvent(name: "MESSAGE_CREATE", data: json.bytes, guild: guild.id, fact: fact), in: system, guildAt: guildIndex)
    }

    /// "… started a thread": the system message (type 18, THREAD_CREATED) Discord posts in a
    /// thread's parent channel when a member opens it without a message, by them, referring to
    /// the thread.
    mutating func threadCreatedMessage(for thread: ActiveThread, opener: PickedMember, inGuildAt guildIndex: Int) -> GeneratedEvent {
        let guild = world.guilds[guildIndex]
        var json = JSONBytes()
        messageHead(type: 18, into: &json)
        json.raw(#","message_reference":{"type":0,"channel_id":"#)
        json.id(thread.id)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw(#"},"member":"#)
        member(opener, in: guildIndex, withUser: false, into: &json)
        messageTail(channel: thread.parent, guild: guild.id, into: &json)
        user(opener.user, into: &json)
        json.raw("}")
        let fact = TrafficFact.notOwnMessage(guild: guild.id, author: identity(of: opener.user).id)
        return visible(GeneratedEvent(name: "MESSAGE_CREATE", data: json.bytes, guild: guild.id, fact: fact), in: thread.parent, guildAt: guildIndex)
    }

    /// A message a webhook posts in one of the guild's channels; nil when it has none.
    mutating func webhookMessage(inGuildAt guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        guard let channel = pickChannel(inGuildAt: guildIndex) else { return nil }
        // One webhook per channel, its ID derived from the channel's (a snowflake of the same time).
        let webhook = channel.rawValue &+ 1
        messageHead(type: 0, into: &json)
        messageTail(channel: channel, guild: guild.id, into: &json)
        json.raw(#"{"username":"Announcements","public_flags":0,"id":"#)
        json.id(UserID(webhook))
        json.raw(#","global_name":null,"discriminator":"0000","bot":true,"avatar":null},"webhook_id":"#)
        json.id(UserID(webhook))
        json.raw("}")
        let fact = TrafficFact.notOwnMessage(guild: guild.id, author: UserID(webhook))
        return visible(GeneratedEvent(name: "MESSAGE_CREATE", data: json.bytes, guild: guild.id, fact: fact), in: channel, guildAt: guildIndex)
    }

    /// A message object up to its `id`'s value: type, time, no mentions.
    private mutating func messageHead(type: Int, into json: inout JSONBytes) {
        messageCounter += 1
        let id = MessageID(unixMilliseconds: clock, worker: idSource >> 5, process: idSource & 0x1F, increment: messageCounter)
        json.raw(#"{"type":"#)
        json.int(type)
        json.raw(#","tts":false,"timestamp":"#)
        json.timestamp(unixMilliseconds: clock)
        json.raw(#","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"id":"#)
        json.id(id)
    }

    /// The rest up to the author object, which the caller writes and closes.
    private func messageTail(channel: ChannelID, guild: GuildID, into json: inout JSONBytes) {
        json.raw(#","flags":0,"embeds":[],"edited_timestamp":null,"content":"","components":[],"attachments":[],"channel_id":"#)
        json.id(channel)
        json.raw(#","guild_id":"#)
        json.id(guild)
        json.raw(#","author":"#)
    }
}
