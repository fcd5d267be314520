import DiscordModels

/// The events' `d` objects, in the field order and shapes Discord sends, rendered into bytes.
extension TrafficGenerator {
    mutating func pickMember(of guild: TrafficWorld.Guild) -> (index: Int, joinedAt: UInt64) {
        let slot = random.below(guild.members.count)
        return (guild.members[slot], guild.joinedAt[slot])
    }

    mutating func user(_ index: Int, into json: inout JSONBytes) {
        if let rendered = userObjects[index] {
            return json.raw(rendered)
        }
        let user = world.users[index]
        var object = JSONBytes(capacity: 256)
        object.raw(#"{"username":""#)
        object.raw(user.username)
        object.raw(#"","public_flags":0,"id":"#)
        object.id(user.id)
        object.raw(#","global_name":""#)
        object.raw(user.username)
        object.raw(#"","discriminator":"0","clan":null,"primary_guild":null,"avatar_decoration_data":null,"avatar":"#)
        if let avatar = user.avatar {
            object.raw("\"")
            object.raw(avatar)
            object.raw("\"")
        } else {
            object.raw("null")
        }
        if user.isBot { object.raw(#","bot":true"#) }
        object.raw("}")
        userObjects[index] = object.bytes
        json.raw(object.bytes)
    }

    mutating func member(_ guild: TrafficWorld.Guild, joinedAt: UInt64, user: Int?, into json: inout JSONBytes) {
        json.raw(#"{"roles":["#)
        for index in 0..<random.below(min(4, guild.roles.count) + 1) {
            if index > 0 { json.raw(",") }
            json.id(guild.roles[random.below(guild.roles.count)])
        }
        json.raw(#"],"premium_since":null,"pending":false,"nick":"#)
        if random.chance(20) {
            json.raw(#""nick"#)
            json.int(random.below(10_000))
            json.raw("\"")
        } else {
            json.raw("null")
        }
        json.raw(#","mute":false,"joined_at":"#)
        json.timestamp(unixMilliseconds: joinedAt)
        json.raw(#","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null"#)
        if let user {
            json.raw(#","user":"#)
            self.user(user, into: &json)
        }
        json.raw("}")
    }

    mutating func messageCreate(in guild: TrafficWorld.Guild, into json: inout JSONBytes) {
        let (author, joinedAt) = pickMember(of: guild)
        messageCounter += 1
        let id = MessageID(unixMilliseconds: clock, worker: idSource >> 5, process: idSource & 0x1F, increment: messageCounter)
        let channel = guild.channels[random.below(guild.channels.count)]
        let mentionsBot = random.chance(3)
        let type = random.chance(8) ? 19 : 0
        json.raw(#"{"type":"#)
        json.int(type)
        json.raw(#","tts":false,"timestamp":"#)
        json.timestamp(unixMilliseconds: clock)
        json.raw(#","referenced_message":null,"pinned":false,"nonce":""#)
        json.int(id.rawValue + 77)
        json.raw(#"","mentions":[],"mention_roles":[],"mention_everyone":false,"member":"#)
        member(guild, joinedAt: joinedAt, user: nil, into: &json)
        json.raw(#","id":"#)
        json.id(id)
        json.raw(#","flags":0,"embeds":[],"edited_timestamp":null,"content":""#)
        if mentionsBot {
            json.raw("<@")
            json.int(world.users[0].id.rawValue)
            json.raw("> rank please")
        }
        json.raw(#"","components":[],"channel_type":0,"channel_id":"#)
        json.id(channel)
        json.raw(#","author":"#)
        user(author, into: &json)
        json.raw(#","attachments":[],"guild_id":"#)
        json.id(guild.id)
        if type == 19 {
            json.raw(#","message_reference":{"type":0,"channel_id":"#)
            json.id(channel)
            json.raw(#","message_id":""#)
            json.int(id.rawValue - 4_194_304)
            json.raw(#"","guild_id":"#)
            json.id(guild.id)
            json.raw("}")
        }
        json.raw("}")
    }

    mutating func typingStart(in guild: TrafficWorld.Guild, into json: inout JSONBytes) {
        let (user, joinedAt) = pickMember(of: guild)
        let channel = guild.channels[random.below(guild.channels.count)]
        json.raw(#"{"user_id":"#)
        json.id(world.users[user].id)
        json.raw(#","timestamp":"#)
        json.int(clock / 1000)
        json.raw(#","member":"#)
        member(guild, joinedAt: joinedAt, user: user, into: &json)
        json.raw(#","channel_id":"#)
        json.id(channel)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw("}")
    }

    mutating func presenceUpdate(in guild: TrafficWorld.Guild, into json: inout JSONBytes) {
        let (user, _) = pickMember(of: guild)
        let (status, offline): (StaticString, Bool) = switch random.below(4) {
        case 0: ("online", false)
        case 1: ("idle", false)
        case 2: ("dnd", false)
        default: ("offline", true)
        }
        json.raw(#"{"user":{"id":"#)
        json.id(world.users[user].id)
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
    }

    mutating func reactionAdd(in guild: TrafficWorld.Guild, into json: inout JSONBytes) {
        let (user, joinedAt) = pickMember(of: guild)
        let (author, _) = pickMember(of: guild)
        let channel = guild.channels[random.below(guild.channels.count)]
        let message = MessageID(unixMilliseconds: clock - UInt64(random.below(86_400_000)), worker: 5)
        let emoji: StaticString = switch random.below(5) {
        case 0: "👍"
        case 1: "⭐"
        case 2: "❤️"
        case 3: "😂"
        default: "🔥"
        }
        json.raw(#"{"user_id":"#)
        json.id(world.users[user].id)
        json.raw(#","type":0,"message_id":"#)
        json.id(message)
        json.raw(#","message_author_id":"#)
        json.id(world.users[author].id)
        json.raw(#","member":"#)
        member(guild, joinedAt: joinedAt, user: user, into: &json)
        json.raw(#","emoji":{"name":""#)
        json.raw(emoji)
        json.raw(#"","id":null},"channel_id":"#)
        json.id(channel)
        json.raw(#","burst":false,"guild_id":"#)
        json.id(guild.id)
        json.raw(#","burst_colors":[]}"#)
    }

    /// A user who is not yet a member joins (Discord never announces a member twice); false when
    /// no such user turned up.
    mutating func memberAdd(in guild: TrafficWorld.Guild, index: Int, into json: inout JSONBytes) -> Bool {
        if memberships[index] == nil { memberships[index] = Set(guild.members) }
        var candidate: Int?
        for _ in 0..<32 {
            let user = random.below(world.users.count)
            if memberships[index]?.contains(user) == false {
                candidate = user
                break
            }
        }
        guard let candidate else { return false }
        // Inserted in place: copying a big guild's member set per join would cost more than the event.
        memberships[index]?.insert(candidate)
        json.raw(#"{"user":"#)
        user(candidate, into: &json)
        json.raw(#","roles":[],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"#)
        json.timestamp(unixMilliseconds: clock)
        json.raw(#","flags":0,"deaf":false,"communication_disabled_until":null,"avatar":null,"guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        return true
    }
}
