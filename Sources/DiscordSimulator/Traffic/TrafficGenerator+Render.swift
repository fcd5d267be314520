import DiscordModels

/// The events' `d` objects, in the field order and shapes Discord sends, rendered into bytes.
extension TrafficGenerator {
    /// A member of the guild who is still in it: mostly the world's members (with their `slot`),
    /// sometimes someone who joined since.
    mutating func pickMember(of guildIndex: Int) -> PickedMember {
        drawMember(of: guildIndex, acting: false).pick
    }

    /// A member who may act now (post, react, type, open a thread, use a command): picked as
    /// ``pickMember(of:)`` picks, but never one timed out, still pending screening or gone; nil
    /// when no such pick turned up.
    mutating func pickActingMember(of guildIndex: Int) -> PickedMember? {
        let drawn = drawMember(of: guildIndex, acting: true)
        return drawn.found ? drawn.pick : nil
    }

    /// Up to 16 draws for a member still in the guild (and, `acting`, neither timed out nor
    /// pending); `found` is false when every draw missed (the last one is handed back all the same).
    mutating func drawMember(of guildIndex: Int, acting: Bool) -> (pick: PickedMember, found: Bool) {
        // The guild's fields are read in place: a copy of the guild would retain each of its tables.
        var pick = PickedMember(user: 0, joinedAt: 0, slot: nil)
        for _ in 0..<16 {
            if let newcomers = joined[guildIndex], !newcomers.isEmpty, random.chance(newcomers.count > 50 ? 30 : 5) {
                let newcomer = newcomers[random.below(newcomers.count)]
                pick = PickedMember(user: newcomer.user, joinedAt: newcomer.at, slot: nil)
            } else {
                let slot = random.below(world.guilds[guildIndex].members.count)
                pick = PickedMember(user: world.guilds[guildIndex].members[slot], joinedAt: world.guilds[guildIndex].joinedAt[slot], slot: slot)
            }
            // Someone who left is no longer the world's member in that slot (if they came back,
            // they are a newcomer, with a newcomer's roles and joined_at).
            let gone = pick.slot != nil && !departed.isEmpty && departed[guildIndex]?.contains(pick.user) == true
            if !gone, !acting || (!isTimedOut(pick.user, inGuildAt: guildIndex) && !isPending(pick.user, inGuildAt: guildIndex)) {
                return (pick, true)
            }
        }
        return (pick, false)
    }

    /// A member's roles: as REST last set them, else as the world gave them (none for newcomers).
    func roles(of member: PickedMember, in guildIndex: Int) -> [RoleID] {
        if let override = memberOverrides[UInt64(guildIndex) << 32 | UInt64(member.user)] { return override.roles }
        return member.slot.map { world.initialRoles(of: world.guilds[guildIndex], slot: $0) } ?? []
    }

    /// A member's `flags`: `DID_REJOIN` (1) for one who left the guild once and came back — never a
    /// world member in their slot, who has not left.
    func memberFlags(of member: PickedMember, in guildIndex: Int) -> Int {
        member.slot == nil && !departed.isEmpty && departed[guildIndex]?.contains(member.user) == true ? 1 : 0
    }

    /// A member's nickname: as REST last set it, else the world's.
    func nick(of member: PickedMember, in guildIndex: Int) -> String? {
        if let override = memberOverrides[UInt64(guildIndex) << 32 | UInt64(member.user)] { return override.nick }
        return member.slot == nil ? nil : world.initialNick(of: world.guilds[guildIndex], userIndex: member.user)
    }

    /// A user object. A world user's is the same every time, so it is rendered once and reused;
    /// raid accounts' are rendered each time.
    mutating func user(_ index: Int, into json: inout JSONBytes) {
        let isWorldUser = index < userObjects.count
        if isWorldUser, userObjects.append(index, to: &json) { return }
        let start = json.bytes.count
        renderUser(index, into: &json)
        if isWorldUser { userObjects.keep(index, json.bytes[start...]) }
    }

    private func renderUser(_ index: Int, into json: inout JSONBytes) {
        let user = self.user(at: index)
        json.raw(#"{"username":""#)
        json.raw(user.username)
        json.raw(#"","public_flags":0,"id":"#)
        json.id(user.id)
        json.raw(#","global_name":""#)
        json.raw(user.username)
        json.raw(#"","discriminator":"0","clan":null,"primary_guild":null,"avatar_decoration_data":null,"avatar":"#)
        if let avatar = user.avatar {
            json.raw("\"")
            json.raw(avatar)
            json.raw("\"")
        } else {
            json.raw("null")
        }
        if user.isBot { json.raw(#","bot":true"#) }
        json.raw("}")
    }

    /// A guild member object. A world member's object without its user is the same every time
    /// (roles and nickname are theirs), so it is rendered once and reused, the user object put
    /// in when wanted; newcomers' objects and those carrying `permissions` (interactions, rare)
    /// are rendered each time.
    mutating func member(
        _ picked: PickedMember, in guildIndex: Int, withUser: Bool, permissions: Permissions? = nil, into json: inout JSONBytes
    ) {
        let slotBase = memberSlotBase[guildIndex]
        guard permissions == nil, let slot = picked.slot, slotBase >= 0 else {
            return renderMember(picked, in: guildIndex, withUser: withUser, permissions: permissions, into: &json)
        }
        let index = slotBase + slot
        let start = json.bytes.count
        if !memberObjects.append(index, to: &json) {
            renderMember(picked, in: guildIndex, withUser: false, permissions: nil, into: &json)
            memberObjects.keep(index, json.bytes[start...])
        }
        guard withUser else { return }
        // Rendered with the user inside: the same object, its closing brace after the user.
        json.bytes.removeLast()
        json.raw(#","user":"#)
        user(picked.user, into: &json)
        json.raw("}")
    }

    private mutating func renderMember(
        _ picked: PickedMember, in guildIndex: Int, withUser: Bool, permissions: Permissions?, into json: inout JSONBytes
    ) {
        json.raw(#"{"roles":["#)
        json.ids(roles(of: picked, in: guildIndex))
        // No `pending`: Discord leaves it out of the member objects of events (messages, typing,
        // reactions, interactions) that only members who passed screening can cause.
        json.raw(#"],"premium_since":null,"nick":"#)
        if let nick = nick(of: picked, in: guildIndex) {
            // Set through REST it may hold anything: escaped.
            json.string(nick)
        } else {
            json.raw("null")
        }
        json.raw(#","mute":false,"joined_at":"#)
        json.timestamp(unixMilliseconds: picked.joinedAt)
        json.raw(#","flags":"#)
        json.int(memberFlags(of: picked, in: guildIndex))
        json.raw(#","deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null"#)
        if withUser {
            json.raw(#","user":"#)
            user(picked.user, into: &json)
        }
        if let permissions {
            json.raw(#","permissions":""#)
            json.int(permissions.rawValue)
            json.raw("\"")
        }
        json.raw("}")
    }

    /// A member posts where they may (a locked channel is passed over, a few tries, as members
    /// do); nil when the picks turned up nobody who may, or the guild has no channel left.
    mutating func messageCreate(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        for _ in 0..<4 {
            guard let author = pickActingMember(of: guildIndex), let (channel, parent) = messageChannel(in: guildIndex) else { return nil }
            let needs: Permissions = parent == nil ? [.viewChannel, .sendMessages] : [.viewChannel, .sendMessagesInThreads]
            guard may(author, needs, in: parent ?? channel, guildAt: guildIndex) else { continue }
            return messageCreate(in: guildIndex, channel: channel, parent: parent, author: author, into: &json)
        }
        return nil
    }

    /// A MESSAGE_CREATE in `channel`, a thread when it has a `parent`.
    mutating func messageCreate(
        in guildIndex: Int, channel: ChannelID, parent: ChannelID? = nil, author picked: PickedMember, into json: inout JSONBytes
    ) -> GeneratedEvent {
        let author = picked.user
        let guildID = world.guilds[guildIndex].id
        messageCounter += 1
        let id = MessageID(unixMilliseconds: clock, worker: idSource >> 5, process: idSource & 0x1F, increment: messageCounter)
        let mentionsBot = random.chance(3)
        let type = random.chance(8) ? 19 : 0
        // A reply carries the message it answers — its author's user object nested in the event,
        // before the event's own author (a bot's, often) — or null when that one is gone.
        let repliedTo = type == 19 ? recentMessages.latest(within: recentMessages.capacity) { $0.channel == channel } : nil
        json.raw(#"{"type":"#)
        json.int(type)
        json.raw(#","tts":false,"timestamp":"#)
        json.timestamp(unixMilliseconds: clock)
        if let repliedTo {
            referencedMessage(repliedTo, into: &json)
            json.raw(#","pinned":false,"nonce":""#)
        } else {
            json.raw(#","referenced_message":null,"pinned":false,"nonce":""#)
        }
        json.int(id.rawValue + 77)
        if mentionsBot {
            // The bot, as a mention lists a user in a guild: its user object and, beside it, its member.
            let guild = world.guilds[guildIndex]
            json.raw(#"","mentions":[{"username":"#)
            json.string(botUsername)
            json.raw(#","public_flags":0,"id":"#)
            json.id(botUserID)
            json.raw(#","global_name":null,"discriminator":"0","bot":true,"avatar":null,"member":{"roles":["#)
            json.id(world.botRoleID(of: guild))
            json.raw(#"],"premium_since":null,"nick":null,"mute":false,"joined_at":"#)
            json.timestamp(unixMilliseconds: guild.id.unixMilliseconds)
            json.raw(#","flags":0,"deaf":false,"communication_disabled_until":null,"avatar":null}}],"mention_roles":[],"mention_everyone":false,"member":"#)
        } else {
            json.raw(#"","mentions":[],"mention_roles":[],"mention_everyone":false,"member":"#)
        }
        member(picked, in: guildIndex, withUser: false, into: &json)
        json.raw(#","id":"#)
        json.id(id)
        json.raw(#","flags":0,"embeds":[],"edited_timestamp":null,"content":""#)
        if mentionsBot {
            json.raw("<@")
            json.int(botUserID.rawValue)
            json.raw("> rank please")
        }
        json.raw(parent == nil ? #"","components":[],"channel_type":0,"channel_id":"# : #"","components":[],"channel_type":11,"channel_id":"#)
        json.id(channel)
        json.raw(#","author":"#)
        user(author, into: &json)
        json.raw(#","attachments":[],"guild_id":"#)
        json.id(guildID)
        if type == 19 {
            json.raw(#","message_reference":{"type":0,"channel_id":"#)
            json.id(channel)
            json.raw(#","message_id":""#)
            json.int(repliedTo?.id.rawValue ?? id.rawValue - 4_194_304)
            json.raw(#"","guild_id":"#)
            json.id(guildID)
            json.raw("}")
        }
        json.raw("}")
        let authorUser = identity(of: author)
        recentMessages.append(RecentMessage(guild: guildIndex, channel: channel, parent: parent, id: id, author: author))
        let event = GeneratedEvent(
            name: "MESSAGE_CREATE", data: json.bytes, guild: guildID,
            fact: .message(
                guild: guildID, author: authorUser.id, id: id, earnsXP: !authorUser.isBot, channel: channel, parent: parent,
                roles: rolesInFacts ? roles(of: picked, in: guildIndex) : []))
        return visible(event, in: parent ?? channel, guildAt: guildIndex)
    }

    /// `,"referenced_message":{…}`: the message a reply answers, as Discord nests it (no member, no
    /// guild id; its author's user object).
    private mutating func referencedMessage(_ message: RecentMessage, into json: inout JSONBytes) {
        json.raw(#","referenced_message":{"type":0,"tts":false,"timestamp":"#)
        json.timestamp(unixMilliseconds: message.id.unixMilliseconds)
        json.raw(#","pinned":false,"mentions":[],"mention_roles":[],"mention_everyone":false,"id":"#)
        json.id(message.id)
        json.raw(#","flags":0,"embeds":[],"edited_timestamp":null,"content":"","components":[],"channel_id":"#)
        json.id(message.channel)
        json.raw(#","author":"#)
        user(message.author, into: &json)
        json.raw(#","attachments":[]}"#)
    }

    /// A member starts typing; nil when the pick turned up nobody who may (or not in the channel
    /// picked), or the guild has no channel left.
    mutating func typingStart(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        guard let picked = pickActingMember(of: guildIndex), let channel = pickChannel(inGuildAt: guildIndex),
              may(picked, [.viewChannel, .sendMessages], in: channel, guildAt: guildIndex)
        else { return nil }
        json.raw(#"{"user_id":"#)
        json.id(self.user(at: picked.user).id)
        json.raw(#","timestamp":"#)
        json.int(clock / 1000)
        json.raw(#","member":"#)
        member(picked, in: guildIndex, withUser: true, into: &json)
        json.raw(#","channel_id":"#)
        json.id(channel)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        return visible(GeneratedEvent(name: "TYPING_START", data: json.bytes, guild: guild.id, fact: .none), in: channel, guildAt: guildIndex)
    }

    mutating func presenceUpdate(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent {
        let guild = world.guilds[guildIndex]
        let user = pickMember(of: guildIndex).user
        let (status, offline): (StaticString, Bool) = switch random.below(4) {
        case 0: ("online", false)
        case 1: ("idle", false)
        case 2: ("dnd", false)
        default: ("offline", true)
        }
        json.raw(#"{"user":{"id":"#)
        json.id(self.user(at: user).id)
        json.raw(#"},"status":""#)
        json.raw(status)
        json.raw(#"","guild_id":"#)
        json.id(guild.id)
        json.raw(#","client_status":"#)
        if offline {
            json.raw("{}")
        } else {
            json.raw(#"{"desktop":""#)
            json.raw(status)
            json.raw(#""}"#)
        }
        json.raw(#","activities":"#)
        if offline || random.chance(50) {
            json.raw("[]")
        } else {
            json.raw(#"[{"type":0,"timestamps":{"start":"#)
            json.int(clock - UInt64(random.below(3_600_000)))
            json.raw(#"},"name":"Game "#)
            json.int(random.below(500))
            json.raw(#"","id":""#)
            json.raw(random.hex(16))
            json.raw(#"","created_at":"#)
            json.int(clock)
            json.raw("}]")
        }
        json.raw("}")
        return GeneratedEvent(name: "PRESENCE_UPDATE", data: json.bytes, guild: guild.id, fact: .none)
    }
}
