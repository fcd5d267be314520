public import DiscordModels

/// Generates gateway dispatches in Discord's real shapes for a ``TrafficWorld``: the corpus of the
/// inflate benchmarks and the traffic of simulated sessions.
///
/// The mix follows a busy bot without the MESSAGE_CONTENT intent (content is empty unless the bot
/// is mentioned): 85% MESSAGE_CREATE, 5% TYPING_START, 5% PRESENCE_UPDATE, 4% MESSAGE_REACTION_ADD,
/// 1% GUILD_MEMBER_ADD.
public struct TrafficGenerator: Sendable {
    public let world: TrafficWorld
    var random: SeededRandom
    /// The sequence number of the next dispatch.
    public private(set) var nextSequence = 1
    var clock: UInt64
    var messageCounter: UInt64 = 0
    /// Each guild's members once someone joined it (by guild index), so a user joins only once.
    var memberships: [Int: Set<Int>] = [:]
    /// Each user's JSON object, rendered once (by user index).
    var userObjects: [[UInt8]?]

    /// The snowflake worker and process bits of the messages this generator creates.
    let idSource: UInt64

    /// - Parameters:
    ///   - stream: tells concurrent generators of one world apart (a simulator passes each
    ///     session's number): its clock starts a day later per stream and its message IDs carry
    ///     the stream in their worker/process bits, so no two streams create the same message ID.
    public init(world: TrafficWorld, seed: UInt64, stream: UInt64 = 0) {
        self.world = world
        random = SeededRandom(seed: seed)
        clock = world.startMilliseconds + stream * 86_400_000
        idSource = stream & 0x3FF
        userObjects = Array(repeating: nil, count: world.users.count)
    }

    /// The next dispatch payload as JSON bytes, numbered by this generator.
    public mutating func nextPayload() -> [UInt8] {
        let (name, data, _) = nextEvent()
        defer { nextSequence += 1 }
        return Self.payload(name: name, data: data, sequence: nextSequence)
    }

    /// The next event — its name, its `d` as JSON bytes and its guild — for a session that numbers
    /// dispatches itself.
    public mutating func nextEvent() -> (name: String, data: [UInt8], guild: GuildID) {
        clock += UInt64(random.below(4))
        let guildIndex = world.pickGuild(&random)
        let guild = world.guilds[guildIndex]
        var json = JSONBytes()
        let name: String
        switch random.below(100) {
        case ..<85:
            name = "MESSAGE_CREATE"
            messageCreate(in: guild, into: &json)
        case ..<90:
            name = "TYPING_START"
            typingStart(in: guild, into: &json)
        case ..<95:
            name = "PRESENCE_UPDATE"
            presenceUpdate(in: guild, into: &json)
        case ..<99:
            name = "MESSAGE_REACTION_ADD"
            reactionAdd(in: guild, into: &json)
        default:
            if memberAdd(in: guild, index: guildIndex, into: &json) {
                name = "GUILD_MEMBER_ADD"
            } else {
                name = "MESSAGE_CREATE"
                messageCreate(in: guild, into: &json)
            }
        }
        return (name, json.bytes, guild.id)
    }

    /// A dispatch payload in Discord's key order.
    public static func payload(name: String, data: [UInt8], sequence: Int) -> [UInt8] {
        var json = JSONBytes(capacity: data.count + name.utf8.count + 32)
        json.raw(#"{"t":""#)
        json.raw(name)
        json.raw(#"","s":"#)
        json.int(sequence)
        json.raw(#","op":0,"d":"#)
        json.raw(data)
        json.raw("}")
        return json.bytes
    }

    /// A dispatch payload whose `d` is given as text.
    public static func payload(name: String, data: String, sequence: Int) -> [UInt8] {
        payload(name: name, data: Array(data.utf8), sequence: sequence)
    }

    /// `count` consecutive dispatch payloads.
    public mutating func payloads(count: Int) -> [[UInt8]] {
        (0..<count).map { _ in nextPayload() }
    }

    private mutating func pickMember(of guild: TrafficWorld.Guild) -> (user: TrafficWorld.User, joinedAt: UInt64) {
        let index = random.below(guild.members.count)
        return (world.users[guild.members[index]], guild.joinedAt[index])
    }
}
