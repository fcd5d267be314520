import DiscordModels

/// Threads: members open public threads in a guild's text channels, post in them, and threads are
/// archived or deleted. A message's `channel_id` is then the thread's, which says nothing of the
/// channel it is in — a bot learns that from THREAD_CREATE (GUILDS intent), as on Discord.
extension TrafficGenerator {
    /// Active threads a guild holds at most: past it, no new thread opens until one closes.
    static let threadLimitPerGuild = 12

    /// A thread that is open (not archived, not deleted): its messages may still come.
    struct ActiveThread: Sendable {
        let id: ChannelID
        let parent: ChannelID
        let owner: UserID
        let createdAt: UInt64
        let number: Int
    }

    /// A guild's threads: those open, and the latest archived ones (which may be taken out of the
    /// archive).
    struct GuildThreads: Sendable {
        var active: [ActiveThread] = []
        var archived: [ActiveThread] = []
        var isEmpty: Bool { active.isEmpty && archived.isEmpty }
    }

    /// Starts from threads opened before this generator (in the world's earlier sessions), for the
    /// guilds it talks about.
    mutating func adoptThreads(_ world: [Int: GuildThreads]) {
        for (index, guild) in world where memberSlotBase.indices.contains(index) && memberSlotBase[index] >= 0 {
            threads[index] = guild.active
            archivedThreads[index] = guild.archived
        }
    }

    /// The threads of the guild at `index` now.
    func threads(ofGuildAt index: Int) -> GuildThreads {
        GuildThreads(active: threads[index] ?? [], archived: archivedThreads[index] ?? [])
    }

    /// The active threads of the guild at `index` as GUILD_CREATE lists them (`threads`: a JSON
    /// array of channel objects): those in channels the bot may view.
    func renderedActiveThreads(ofGuildAt index: Int) -> String {
        var json = JSONBytes()
        json.raw("[")
        renderActiveThreads(ofGuildAt: index, where: { botViews($0.parent, guildAt: index) }, into: &json)
        json.raw("]")
        return String(decoding: json.bytes, as: UTF8.self)
    }

    /// THREAD_LIST_SYNC's `d` for `channel` of the guild at `index`, as Discord sends it when the bot
    /// gains access to the channel: the channel's active threads (the bot is a member of none).
    func threadListSync(of channel: ChannelID, guildAt index: Int) -> [UInt8] {
        var json = JSONBytes()
        json.raw(#"{"guild_id":"#)
        json.id(world.guilds[index].id)
        json.raw(#","channel_ids":["#)
        json.id(channel)
        json.raw(#"],"threads":["#)
        renderActiveThreads(ofGuildAt: index, where: { $0.parent == channel }, into: &json)
        json.raw(#"],"members":[]}"#)
        return json.bytes
    }

    /// The guild's active threads that `isIncluded` accepts, as channel objects separated by commas.
    private func renderActiveThreads(ofGuildAt index: Int, where isIncluded: (ActiveThread) -> Bool, into json: inout JSONBytes) {
        for (position, thread) in (threads[index] ?? []).filter(isIncluded).enumerated() {
            if position > 0 { json.raw(",") }
            Self.renderThread(thread, guild: world.guilds[index].id, archived: false, archivedAt: thread.createdAt, newlyCreated: false, into: &json)
        }
    }

    /// The channel a message goes to: one of the guild's active threads one time in five, when it
    /// has any; else one of its channels. The second value is the thread's parent channel.
    /// Nil when the guild has neither channel nor thread left.
    mutating func messageChannel(in guildIndex: Int) -> (channel: ChannelID, parent: ChannelID?)? {
        if let open = threads[guildIndex], !open.isEmpty, random.chance(20) {
            let thread = open[random.below(open.count)]
            return (thread.id, thread.parent)
        }
        return pickChannel(inGuildAt: guildIndex).map { ($0, nil) }
    }

    /// THREAD_CREATE: a member opens a public thread in one of the guild's channels. Nil when the
    /// guild holds as many active threads as it may.
    mutating func threadCreate(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        guard threads[guildIndex, default: []].count < Self.threadLimitPerGuild,
              let opener = pickActingMember(of: guildIndex), let parent = pickChannel(inGuildAt: guildIndex),
              may(opener, [.viewChannel, .createPublicThreads], in: parent, guildAt: guildIndex)
        else { return nil }
        let guild = world.guilds[guildIndex]
        let owner = identity(of: opener.user).id
        messageCounter += 1
        threadsOpened += 1
        let id = ChannelID(unixMilliseconds: clock, worker: idSource >> 5, process: idSource & 0x1F, increment: messageCounter)
        let thread = ActiveThread(id: id, parent: parent, owner: owner, createdAt: clock, number: threadsOpened)
        threads[guildIndex, default: []].append(thread)
        threadChange = (guildIndex, threadChange.count &+ 1)
        renderThread(thread, guild: guild.id, archived: false, newlyCreated: true, into: &json)
        followUp = (threadCreatedMessage(for: thread, opener: opener, inGuildAt: guildIndex), parent, guildIndex)
        return visible(GeneratedEvent(name: "THREAD_CREATE", data: json.bytes, guild: guild.id, fact: .none), in: parent, guildAt: guildIndex)
    }

    /// THREAD_UPDATE archiving one of the guild's active threads (no message comes to it while it
    /// is archived), or THREAD_DELETE. Nil when the guild has no active thread.
    mutating func threadClose(in guildIndex: Int, delete: Bool, into json: inout JSONBytes) -> GeneratedEvent? {
        guard var open = threads[guildIndex], !open.isEmpty else { return nil }
        let thread = open.remove(at: random.below(open.count))
        threads[guildIndex] = open
        threadChange = (guildIndex, threadChange.count &+ 1)
        // Nobody reacts in an archived or deleted thread.
        recentMessages.removeAll { $0.channel == thread.id }
        recentReactions.removeAll { $0.message.channel == thread.id }
        if !delete {
            var archived = archivedThreads[guildIndex, default: []]
            if archived.count >= Self.threadLimitPerGuild { archived.removeFirst() }
            archived.append(thread)
            archivedThreads[guildIndex] = archived
        }
        let guild = world.guilds[guildIndex].id
        if delete {
            json.raw(#"{"type":11,"parent_id":"#)
            json.id(thread.parent)
            json.raw(#","id":"#)
            json.id(thread.id)
            json.raw(#","guild_id":"#)
            json.id(guild)
            json.raw("}")
            return visible(GeneratedEvent(name: "THREAD_DELETE", data: json.bytes, guild: guild, fact: .none), in: thread.parent, guildAt: guildIndex)
        }
        renderThread(thread, guild: guild, archived: true, newlyCreated: false, into: &json)
        return visible(GeneratedEvent(name: "THREAD_UPDATE", data: json.bytes, guild: guild, fact: .none), in: thread.parent, guildAt: guildIndex)
    }

    /// THREAD_UPDATE taking one of the guild's archived threads out of the archive (as a member
    /// posting in it does, before their message), so messages come to it again. Nil when the guild
    /// has no archived thread, or as many active ones as it may.
    mutating func threadUnarchive(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        guard var archived = archivedThreads[guildIndex], !archived.isEmpty,
              threads[guildIndex, default: []].count < Self.threadLimitPerGuild
        else { return nil }
        let thread = archived.remove(at: random.below(archived.count))
        archivedThreads[guildIndex] = archived
        threads[guildIndex, default: []].append(thread)
        threadChange = (guildIndex, threadChange.count &+ 1)
        let guild = world.guilds[guildIndex].id
        renderThread(thread, guild: guild, archived: false, newlyCreated: false, into: &json)
        return visible(GeneratedEvent(name: "THREAD_UPDATE", data: json.bytes, guild: guild, fact: .none), in: thread.parent, guildAt: guildIndex)
    }

    /// A thread's channel object, as THREAD_CREATE and THREAD_UPDATE carry it; its archive state
    /// last changed when it was created, or now (archived, or taken out of the archive).
    private func renderThread(_ thread: ActiveThread, guild: GuildID, archived: Bool, newlyCreated: Bool, into json: inout JSONBytes) {
        Self.renderThread(thread, guild: guild, archived: archived, archivedAt: newlyCreated ? thread.createdAt : clock, newlyCreated: newlyCreated, into: &json)
    }

    /// A thread's channel object, whose archive state last changed at `archivedAt` (Unix ms).
    static func renderThread(
        _ thread: ActiveThread, guild: GuildID, archived: Bool, archivedAt: UInt64, newlyCreated: Bool, into json: inout JSONBytes
    ) {
        json.raw(#"{"type":11,"total_message_sent":0,"thread_metadata":{"locked":false,"create_timestamp":"#)
        json.timestamp(unixMilliseconds: thread.createdAt)
        json.raw(#","auto_archive_duration":4320,"archived":"#)
        json.raw(archived ? "true" : "false")
        json.raw(#","archive_timestamp":"#)
        json.timestamp(unixMilliseconds: archivedAt)
        json.raw(#"},"rate_limit_per_user":0,"parent_id":"#)
        json.id(thread.parent)
        json.raw(#","owner_id":"#)
        json.id(thread.owner)
        if newlyCreated { json.raw(#","newly_created":true"#) }
        json.raw(#","name":"thread "#)
        json.int(thread.number)
        json.raw(#"","message_count":0,"member_count":1,"last_message_id":null,"id":"#)
        json.id(thread.id)
        json.raw(#","guild_id":"#)
        json.id(guild)
        json.raw(#","flags":0}"#)
    }
}
