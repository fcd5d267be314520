public import DiscordModels
import Foundation

/// Generates gateway dispatches in Discord's real shapes for a ``TrafficWorld``: the corpus of the
/// inflate benchmarks and the traffic of simulated sessions.
///
/// The mix follows a busy bot without the MESSAGE_CONTENT intent (content is empty unless the bot
/// is mentioned), per thousand events: 850 MESSAGE_CREATE (one in five in an active thread, where a
/// guild has one), 45 TYPING_START, 2 THREAD_CREATE, 2 THREAD_UPDATE (archiving one, or taking one
/// out of the archive), 1 THREAD_DELETE, 45 PRESENCE_UPDATE, 5 GUILD_MEMBER_UPDATE (a role given or
/// taken, Membership Screening passed), 35 MESSAGE_REACTION_ADD, 4 MESSAGE_REACTION_REMOVE, 1 of
/// MESSAGE_REACTION_REMOVE_ALL or _EMOJI, 6 GUILD_MEMBER_ADD, 3 GUILD_MEMBER_REMOVE, 1
/// INTERACTION_CREATE; now and then a raid wave (a burst of brand-new accounts joining one guild
/// and posting). In a guild with Membership Screening a newcomer joins `pending` and does nothing
/// until they pass it. A draw that finds nothing to act on (no thread to
/// archive, no recent message to react to) becomes a message — or a presence, when nobody drawn may
/// post (timed out, a locked channel) or the guild has no channel left.
public struct TrafficGenerator: Sendable {
    public let world: TrafficWorld
    var random: SeededRandom
    /// The sequence number of the next dispatch.
    public private(set) var nextSequence = 1
    var clock: UInt64
    var messageCounter: UInt64 = 0
    /// The guilds this generator talks about (indexes into the world's guilds) and the running
    /// sums of their activity weights.
    let guildIndexes: [Int]
    let cumulativeWeights: [Double]
    /// Who joined or left each guild (by guild index) since the world started, so a user joins
    /// only once, and who left is not picked to talk.
    var joined: [Int: [(user: Int, at: UInt64)]] = [:]
    var isMember: [Int: Set<Int>] = [:]
    var departed: [Int: Set<Int>] = [:]
    /// Users banned from a guild (by REST): they do not join it again.
    var banned: [Int: Set<Int>] = [:]
    /// Newcomers who have not yet passed their guild's Membership Screening (guild and user
    /// indexes), in a fixed order: they may not act until they do. A handful at a time, as passes
    /// are drawn more often than screened joins.
    var pendingMembers: [(guild: Int, user: Int)] = []
    /// Brand-new accounts made by raids; user index `world.users.count + i`.
    var raidUsers: [TrafficWorld.User] = []
    /// A raid under way: the guild, and how many joins are still to come.
    var raid: (guild: Int, remaining: Int)?
    /// A message that follows the event just returned (a join's or a thread's system message) in
    /// `channel`, returned next — whether the bot sees it judged then (a change applied in between,
    /// such as the bot let into the channel, holds for it: the two are one moment).
    var followUp: (event: GeneratedEvent, channel: ChannelID, guildIndex: Int)?
    /// Recent messages and reactions, which reactions and reaction removals refer to.
    var recentMessages = RecentRing<RecentMessage>(capacity: 512)
    var recentReactions = RecentRing<RecentReaction>(capacity: 512)
    /// Every reaction still on a recent message (the ring above forgets some): Discord sends no
    /// second add for a reaction that is already there.
    var placedReactions = Set<PlacedReaction>()
    /// The placed reactions added where the bot could not see them: their removal means nothing
    /// to the bot (it never counted them), even where it can see the channel by then.
    var reactionsUnseenByBot = Set<PlacedReaction>()
    /// World users' JSON objects (by user index) and world members' member objects without their
    /// user (by `memberSlotBase[guild index] + slot`), each rendered once.
    var userObjects: RenderedObjects
    var memberObjects: RenderedObjects
    /// Where each guild's members start among `memberObjects`; -1 for the guilds this generator
    /// does not talk about.
    let memberSlotBase: [Int]
    /// Roles and nicknames REST changed, by (guild index << 32 | user index).
    var memberOverrides: [UInt64: (roles: [RoleID], nick: String?)] = [:]
    /// Members timed out through REST, by (guild index << 32 | user index): until when, in Unix
    /// milliseconds by the wall clock.
    var timeouts: [UInt64: UInt64] = [:]
    /// The channels members post in, for the guilds (by index) where REST made or deleted one; the
    /// others have the world's.
    var changedChannels: [Int: [ChannelID]] = [:]
    /// The permission overwrites of the channels REST made or changed, where there are any.
    var channelOverwrites: [ChannelID: [GuildStates.Overwrite]] = [:]
    /// Each world member's slot by user index, for the guilds REST changed a member of (built on
    /// the first change: a scan of a big guild's members per REST call would hold the session).
    var memberSlots: [Int: [Int: Int]] = [:]
    /// Each guild's active threads (by guild index), its latest archived ones, and how many threads
    /// were opened so far.
    var threads: [Int: [ActiveThread]] = [:]
    var archivedThreads: [Int: [ActiveThread]] = [:]
    var threadsOpened = 0
    /// The last guild whose threads changed (opened, archived, taken out, deleted), and how many
    /// times any did: what a session keeps for the world's later sessions.
    var threadChange = (guildIndex: -1, count: 0)

    /// The snowflake worker and process bits of the messages this generator creates.
    let idSource: UInt64
    /// Whether a message's fact lists its author's roles: a ground truth with role rules needs
    /// them, and working a world member's out costs an allocation per message otherwise saved.
    public var rolesInFacts = false
    /// The bot the traffic is for: some messages mention it, interactions are addressed to it.
    public var botUserID = UserID(1_100_000_000_000_000_001)
    /// The bot's username, as a message mentioning it lists the bot in `mentions`.
    public var botUsername = "Kamii"
    public var applicationID: UInt64 = 1_100_000_000_000_000_001

    /// Streams whose message IDs differ: a snowflake's worker and process bits are ten.
    public static let distinctStreams: UInt64 = 1 << 10

    /// - Parameters:
    ///   - stream: tells concurrent generators of one world apart (a simulator passes each
    ///     session's number): its clock starts a day later per stream and its message IDs carry
    ///     the stream in their worker/process bits, so no two streams create the same message ID.
    ///   - shard: only this shard's guilds, `(guild_id >> 22) % count == id` (nil: all guilds).
    public init(world: TrafficWorld, seed: UInt64, stream: UInt64 = 0, shard: (id: Int, count: Int)? = nil) {
        self.world = world
        random = SeededRandom(seed: seed)
        clock = world.startMilliseconds + stream * 86_400_000
        idSource = stream % Self.distinctStreams
        var indexes: [Int] = []
        var weights: [Double] = []
        var total = 0.0
        var slotBase = Array(repeating: -1, count: world.guilds.count)
        var memberships = 0
        for (index, guild) in world.guilds.enumerated() {
            if let shard, Int((guild.id.rawValue >> 22) % UInt64(shard.count)) != shard.id { continue }
            indexes.append(index)
            total += world.activityWeight(ofGuildAt: index)
            weights.append(total)
            slotBase[index] = memberships
            memberships += guild.members.count
        }
        guildIndexes = indexes
        cumulativeWeights = weights
        memberSlotBase = slotBase
        // Bounded: a long run over a huge world renders again rather than growing.
        userObjects = RenderedObjects(count: world.users.count, byteLimit: 32 << 20)
        memberObjects = RenderedObjects(count: memberships, byteLimit: 48 << 20)
    }

    /// The next dispatch payload as JSON bytes, numbered by this generator.
    public mutating func nextPayload() -> [UInt8] {
        let event = nextEvent()
        defer { nextSequence += 1 }
        return Self.payload(name: event.name, data: event.data, sequence: nextSequence)
    }

    /// The next event — its name, its `d` as JSON bytes, its guild and what it means — for a
    /// session that numbers dispatches itself. Empty only when this generator has no guilds.
    public mutating func nextEvent() -> GeneratedEvent {
        var json = JSONBytes()
        return nextEvent(into: &json)
    }

    /// The next event, its `d` rendered into `json` (emptied first; its capacity is kept, so a
    /// caller that reuses one buffer renders without allocating). The event's `data` shares that
    /// buffer: let go of it before the next call.
    mutating func nextEvent(into json: inout JSONBytes) -> GeneratedEvent {
        json.removeAll()
        if let (event, channel, guildIndex) = followUp {
            followUp = nil
            // Unless a REST call in between deleted the channel (which takes its messages with it).
            if channels(ofGuildAt: guildIndex).contains(channel) {
                var shown = event
                shown.botCanView = true
                return visible(shown, in: channel, guildAt: guildIndex)
            }
        }
        clock += UInt64(random.below(4))
        guard !guildIndexes.isEmpty else { return GeneratedEvent(name: "", data: [], guild: GuildID(0), fact: .none) }
        if let raid { return raidEvent(raid, into: &json) }
        let guildIndex = pickGuildIndex()
        let roll = random.below(1_000)
        if roll == 999, random.below(20) == 0 {
            startRaid(guildIndex: guildIndex, size: random.inRange(20...200))
            return raidEvent(raid!, into: &json)
        }
        var event: GeneratedEvent?
        switch roll {
        case ..<850: break
        case ..<852: event = threadCreate(in: guildIndex, into: &json)
        case ..<853: event = threadClose(in: guildIndex, delete: false, into: &json)
        case ..<854: event = threadClose(in: guildIndex, delete: true, into: &json)
        case ..<855: event = threadUnarchive(in: guildIndex, into: &json)
        case ..<900: event = typingStart(in: guildIndex, into: &json)
        case ..<945: event = presenceUpdate(in: guildIndex, into: &json)
        case ..<950: event = memberUpdate(in: guildIndex, into: &json)
        case ..<985: event = reactionAdd(into: &json)
        case ..<989: event = reactionRemove(into: &json)
        case ..<990: event = reactionsCleared(into: &json)
        case ..<996: event = memberAdd(in: guildIndex, into: &json)
        case ..<999: event = memberRemove(in: guildIndex, into: &json)
        default: event = interactionCreate(in: guildIndex, into: &json)
        }
        if let event { return event }
        json.removeAll()
        if random.below(Self.webhookMessageOdds) == 0, let message = webhookMessage(inGuildAt: guildIndex, into: &json) { return message }
        json.removeAll()
        if let message = messageCreate(in: guildIndex, into: &json) { return message }
        // Nobody may post (every channel deleted, every member picked timed out): members are still online.
        json.removeAll()
        return presenceUpdate(in: guildIndex, into: &json)
    }

    /// Starts a raid on a guild: `size` brand-new accounts join it over the next events, and
    /// some of them post.
    public mutating func startRaid(guild: GuildID, size: Int) {
        guard let index = talkedAboutIndex(of: guild) else { return }
        startRaid(guildIndex: index, size: size)
    }

    mutating func startRaid(guildIndex: Int, size: Int) {
        raid = (guildIndex, max(1, size))
    }

    /// The index of a guild of the world that this generator talks about.
    func talkedAboutIndex(of guild: GuildID) -> Int? {
        guard let index = world.guildIndex(of: guild), memberSlotBase[index] >= 0 else { return nil }
        return index
    }

    /// A world member's slot among the guild's members (nil for a user who joined since).
    mutating func slot(of userIndex: Int, in guildIndex: Int) -> Int? {
        if let slots = memberSlots[guildIndex] { return slots[userIndex] }
        let slots = Dictionary(world.guilds[guildIndex].members.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        memberSlots[guildIndex] = slots
        return slots[userIndex]
    }

    /// A dispatch payload in Discord's key order.
    public static func payload(name: String, data: [UInt8], sequence: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(payloadBound(name: name, dataCount: data.count))
        appendPayload(name: name, data: data, sequence: sequence, to: &bytes)
        return bytes
    }

    /// At most how many bytes ``appendPayload(name:data:sequence:to:)`` appends.
    static func payloadBound(name: String, dataCount: Int) -> Int {
        dataCount + name.utf8.count + 48
    }

    /// Appends a dispatch payload to `bytes`.
    static func appendPayload(name: String, data: [UInt8], sequence: Int, to bytes: inout [UInt8]) {
        data.withUnsafeBytes { appendPayload(name: name, data: $0, sequence: sequence, to: &bytes) }
    }

    /// Appends a dispatch payload whose `d` is `data` to `bytes`.
    static func appendPayload(name: String, data: UnsafeRawBufferPointer, sequence: Int, to bytes: inout [UInt8]) {
        var json = JSONBytes(capacity: 0)
        // Borrowed, not copied: the bytes go back to the caller below.
        swap(&json.bytes, &bytes)
        json.raw(#"{"t":""#)
        json.raw(name)
        json.raw(#"","s":"#)
        json.int(sequence)
        json.raw(#","op":0,"d":"#)
        json.raw(data)
        json.raw("}")
        swap(&json.bytes, &bytes)
    }

    /// A dispatch payload whose `d` is given as text.
    public static func payload(name: String, data: String, sequence: Int) -> [UInt8] {
        payload(name: name, data: Array(data.utf8), sequence: sequence)
    }

    /// `count` consecutive dispatch payloads.
    public mutating func payloads(count: Int) -> [[UInt8]] {
        (0..<count).map { _ in nextPayload() }
    }

    /// Picks one of this generator's guilds with probability proportional to its activity.
    mutating func pickGuildIndex() -> Int {
        guildIndexes[TrafficWorld.weightedPick(cumulativeWeights, &random)]
    }

    /// A user of the world or a raid account.
    func user(at index: Int) -> TrafficWorld.User {
        index < world.users.count ? world.users[index] : raidUsers[index - world.users.count]
    }

    /// A user's ID and whether they are a bot, read in place (a copy of the user would retain its strings).
    func identity(of index: Int) -> (id: UserID, isBot: Bool) {
        if index < world.users.count { return (world.users[index].id, world.users[index].isBot) }
        let raider = index - world.users.count
        return (raidUsers[raider].id, raidUsers[raider].isBot)
    }

    func userIndex(of id: UserID) -> Int? {
        if let index = world.userIndex(of: id) { return index }
        return raidUsers.firstIndex { $0.id == id }.map { $0 + world.users.count }
    }
}

/// One generated dispatch and what it means for the ground truth.
public struct GeneratedEvent: Sendable {
    public let name: String
    public let data: [UInt8]
    public let guild: GuildID
    public let fact: TrafficFact
    /// False for an event in a channel the bot may not view (for a thread, its parent): Discord
    /// does not send it, and it counts for nothing the bot must reach.
    public var botCanView = true
}

/// A fixed-size ring of recent items, picked at random.
struct RecentRing<Element: Sendable>: Sendable {
    private(set) var items: [Element] = []
    private var next = 0
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    mutating func append(_ item: Element) {
        if items.count < capacity { items.append(item) } else { items[next] = item }
        next = (next + 1) % capacity
    }

    /// Takes out every item `matches` names (order is not kept).
    mutating func removeAll(where matches: (Element) -> Bool) {
        items.removeAll(where: matches)
        next = items.count % capacity
    }

    /// The newest of the last `depth` items put in that `matches` names (after a removal, the
    /// order is only roughly kept: "a recent one").
    func latest(within depth: Int, where matches: (Element) -> Bool) -> Element? {
        guard !items.isEmpty else { return nil }
        for back in 1...min(depth, items.count) {
            let item = items[(next - back + items.count) % items.count]
            if matches(item) { return item }
        }
        return nil
    }

    /// Takes one out (order is not kept).
    mutating func remove(at index: Int) -> Element {
        let item = items[index]
        items[index] = items[items.count - 1]
        items.removeLast()
        next = items.count % capacity
        return item
    }
}

/// A member picked to act: a user index, when they joined, and their slot among the world's
/// members of the guild (nil for someone who joined since).
struct PickedMember: Sendable {
    let user: Int
    let joinedAt: UInt64
    let slot: Int?
}

struct RecentMessage: Sendable {
    let guild: Int
    let channel: ChannelID
    /// The thread's parent channel, for a message in a thread.
    let parent: ChannelID?
    let id: MessageID
    let author: Int
}

/// A member's reaction on a message: one per emoji, and a super reaction of the same emoji besides.
struct PlacedReaction: Hashable, Sendable {
    let message: MessageID
    let giver: Int
    let emoji: Int
    let isBurst: Bool
}

struct RecentReaction: Sendable {
    let message: RecentMessage
    let giver: Int
    let emoji: Int
    let isBurst: Bool
}
