public import DiscordModels

/// Generates gateway dispatches in Discord's real shapes for a ``TrafficWorld``: the corpus of the
/// inflate benchmarks and the traffic of simulated sessions.
///
/// The mix follows a busy bot without the MESSAGE_CONTENT intent (content is empty unless the bot
/// is mentioned): 85% MESSAGE_CREATE, 5% TYPING_START, 5% PRESENCE_UPDATE, 4% MESSAGE_REACTION_ADD,
/// 1% GUILD_MEMBER_ADD.
public struct TrafficGenerator: Sendable {
    public let world: TrafficWorld
    private var random: SeededRandom
    /// The sequence number of the next dispatch.
    public private(set) var nextSequence = 1
    private var clock: UInt64
    private var messageCounter: UInt64 = 0
    /// Each guild's members once someone joined it (by guild index), so a user joins only once.
    private var memberships: [Int: Set<Int>] = [:]

    /// The snowflake worker and process bits of the messages this generator creates.
    private let idSource: UInt64

    /// - Parameters:
    ///   - stream: tells concurrent generators of one world apart (a simulator passes each
    ///     session's number): its clock starts a day later per stream and its message IDs carry
    ///     the stream in their worker/process bits, so no two streams create the same message ID.
    public init(world: TrafficWorld, seed: UInt64, stream: UInt64 = 0) {
        self.world = world
        random = SeededRandom(seed: seed)
        clock = world.startMilliseconds + stream * 86_400_000
        idSource = stream & 0x3FF
    }

    /// The next dispatch payload as JSON bytes, numbered by this generator.
    public mutating func nextPayload() -> [UInt8] {
        let (name, data, _) = nextEvent()
        defer { nextSequence += 1 }
        return Self.payload(name: name, data: data, sequence: nextSequence)
    }

    /// The next event — its name, its `d` as JSON and its guild — for a session that numbers
    /// dispatches itself.
    public mutating func nextEvent() -> (name: String, data: String, guild: GuildID) {
        clock += UInt64(random.below(4))
        let guildIndex = world.pickGuild(&random)
        let guild = world.guilds[guildIndex]
        let roll = random.below(100)
        let (name, data) = switch roll {
        case ..<85: ("MESSAGE_CREATE", messageCreate(in: guild))
        case ..<90: ("TYPING_START", typingStart(in: guild))
        case ..<95: ("PRESENCE_UPDATE", presenceUpdate(in: guild))
        case ..<99: ("MESSAGE_REACTION_ADD", reactionAdd(in: guild))
        default: memberAdd(in: guild, index: guildIndex).map { ("GUILD_MEMBER_ADD", $0) } ?? ("MESSAGE_CREATE", messageCreate(in: guild))
        }
        return (name, data, guild.id)
    }

    /// A dispatch payload in Discord's key order.
    public static func payload(name: String, data: String, sequence: Int) -> [UInt8] {
        Array(#"{"t":"\#(name)","s":\#(sequence),"op":0,"d":\#(data)}"#.utf8)
    }

    /// `count` consecutive dispatch payloads.
    public mutating func payloads(count: Int) -> [[UInt8]] {
        (0..<count).map { _ in nextPayload() }
    }

    private mutating func pickMember(of guild: TrafficWorld.Guild) -> (user: TrafficWorld.User, joinedAt: UInt64) {
        let index = random.below(guild.members.count)
        return (world.users[guild.members[index]], guild.joinedAt[index])
    }

    private func userJSON(_ user: TrafficWorld.User) -> String {
        let avatar = user.avatar.map { "\"\($0)\"" } ?? "null"
        let bot = user.isBot ? #","bot":true"# : ""
        return #"{"username":"\#(user.username)","public_flags":0,"id":"\#(user.id)","global_name":"\#(user.username)","discriminator":"0","clan":null,"primary_guild":null,"avatar_decoration_data":null,"avatar":\#(avatar)\#(bot)}"#
    }

    private mutating func memberJSON(_ guild: TrafficWorld.Guild, joinedAt: UInt64, user: TrafficWorld.User?) -> String {
        let roles = (0..<random.below(min(4, guild.roles.count) + 1)).map { _ in "\"\(guild.roles[random.below(guild.roles.count)])\"" }
        let userField = user.map { #","user":\#(userJSON($0))"# } ?? ""
        let nick = random.chance(20) ? "\"nick\(random.below(10_000))\"" : "null"
        return #"{"roles":[\#(roles.joined(separator: ","))],"premium_since":null,"pending":false,"nick":\#(nick),"mute":false,"joined_at":"\#(DiscordTimestamp.iso8601(unixMilliseconds: joinedAt))","flags":0,"deaf":false,"communication_disabled_until":null,"banner":null,"avatar":null\#(userField)}"#
    }

    private mutating func messageCreate(in guild: TrafficWorld.Guild) -> String {
        let (author, joinedAt) = pickMember(of: guild)
        messageCounter += 1
        let id = MessageID(unixMilliseconds: clock, worker: idSource >> 5, process: idSource & 0x1F, increment: messageCounter)
        let channel = guild.channels[random.below(guild.channels.count)]
        let content = random.chance(3) ? "<@\(world.users[0].id)> rank please" : ""
        let type = random.chance(8) ? 19 : 0
        let reference = type == 19 ? #","message_reference":{"type":0,"channel_id":"\#(channel)","message_id":"\#(id.rawValue - 4_194_304)","guild_id":"\#(guild.id)"}"# : ""
        return #"{"type":\#(type),"tts":false,"timestamp":"\#(DiscordTimestamp.iso8601(unixMilliseconds: clock))","referenced_message":null,"pinned":false,"nonce":"\#(id.rawValue + 77)","mentions":[],"mention_roles":[],"mention_everyone":false,"member":\#(memberJSON(guild, joinedAt: joinedAt, user: nil)),"id":"\#(id)","flags":0,"embeds":[],"edited_timestamp":null,"content":"\#(content)","components":[],"channel_type":0,"channel_id":"\#(channel)","author":\#(userJSON(author)),"attachments":[],"guild_id":"\#(guild.id)"\#(reference)}"#
    }

    private mutating func typingStart(in guild: TrafficWorld.Guild) -> String {
        let (user, joinedAt) = pickMember(of: guild)
        let channel = guild.channels[random.below(guild.channels.count)]
        return #"{"user_id":"\#(user.id)","timestamp":\#(clock / 1000),"member":\#(memberJSON(guild, joinedAt: joinedAt, user: user)),"channel_id":"\#(channel)","guild_id":"\#(guild.id)"}"#
    }

    private mutating func presenceUpdate(in guild: TrafficWorld.Guild) -> String {
        let (user, _) = pickMember(of: guild)
        let status = ["online", "idle", "dnd", "offline"][random.below(4)]
        let activities = status == "offline" || random.chance(50) ? "[]"
            : #"[{"type":0,"timestamps":{"start":\#(clock - UInt64(random.below(3_600_000)))},"name":"Game \#(random.below(500))","id":"\#(random.hex(16))","created_at":\#(clock)}]"#
        let clientStatus = status == "offline" ? "{}" : #"{"desktop":"\#(status)"}"#
        return #"{"user":{"id":"\#(user.id)"},"status":"\#(status)","guild_id":"\#(guild.id)","client_status":\#(clientStatus),"activities":\#(activities)}"#
    }

    private mutating func reactionAdd(in guild: TrafficWorld.Guild) -> String {
        let (user, joinedAt) = pickMember(of: guild)
        let (author, _) = pickMember(of: guild)
        let channel = guild.channels[random.below(guild.channels.count)]
        let message = MessageID(unixMilliseconds: clock - UInt64(random.below(86_400_000)), worker: 5)
        let emoji = ["👍", "⭐", "❤️", "😂", "🔥"][random.below(5)]
        return #"{"user_id":"\#(user.id)","type":0,"message_id":"\#(message)","message_author_id":"\#(author.id)","member":\#(memberJSON(guild, joinedAt: joinedAt, user: user)),"emoji":{"name":"\#(emoji)","id":null},"channel_id":"\#(channel)","burst":false,"guild_id":"\#(guild.id)","burst_colors":[]}"#
    }

    /// A user who is not yet a member joins (Discord never announces a member twice); nil when
    /// no such user turned up.
    private mutating func memberAdd(in guild: TrafficWorld.Guild, index: Int) -> String? {
        var members = memberships[index] ?? Set(guild.members)
        var candidate: Int?
        for _ in 0..<32 {
            let user = random.below(world.users.count)
            if !members.contains(user) {
                candidate = user
                break
            }
        }
        guard let candidate else { return nil }
        members.insert(candidate)
        memberships[index] = members
        let user = world.users[candidate]
        return #"{"user":\#(userJSON(user)),"roles":[],"premium_since":null,"pending":false,"nick":null,"mute":false,"joined_at":"\#(DiscordTimestamp.iso8601(unixMilliseconds: clock))","flags":0,"deaf":false,"communication_disabled_until":null,"avatar":null,"guild_id":"\#(guild.id)"}"#
    }
}
