import DiscordModels
import Synchronization

/// The guilds as REST sees and changes them: members (with roles, nicknames and timeouts), bans and
/// channels with their permission overwrites. A guild's state is made from the world the first
/// time anything touches it; joins and leaves in the traffic keep it current.
final class GuildStates: Sendable {
    /// The world's threads, which outlive the sessions they were opened in.
    let threads = WorldThreads()

    struct Member: Sendable {
        var user: TrafficWorld.User
        var roles: [RoleID]
        var nick: String?
        /// ISO 8601, as sent; nil when not timed out.
        var timeoutUntil: String?
        var joinedAt: UInt64
        /// Not yet through the guild's Membership Screening.
        var pending = false
        /// Left the guild once and came back (Discord's member flag `DID_REJOIN`, `1 << 0`).
        var didRejoin = false

        /// The member's `flags`, as Discord sends them.
        var flags: Int { didRejoin ? 1 : 0 }

        /// When the member's timeout ends (or ended: an expired one is kept, as Discord keeps it), in
        /// Unix milliseconds; nil when never timed out or the timeout was lifted.
        var timedOutUntilMilliseconds: UInt64? {
            timeoutUntil.flatMap(SimulatedAPI.parseTimestamp).map(DiscordTimestamp.unixMilliseconds(of:))
        }
    }

    struct Overwrite: Sendable, Equatable {
        var id: UInt64
        /// 0: role, 1: member.
        var type: Int
        var allow: UInt64
        var deny: UInt64

        /// A member's permissions in a channel: their guild permissions with the channel's
        /// overwrites applied in Discord's order — `@everyone`'s, then those of the member's roles
        /// together, then the member's own. Administrators are not bound by overwrites. Without View
        /// Channel, no other permission holds in the channel (Discord's implicit permissions).
        static func apply(_ overwrites: [Overwrite], to base: Permissions, guild: GuildID, roles: [RoleID], user: UserID) -> Permissions {
            if base.contains(.administrator) { return .all }
            var raw = base.rawValue
            if let everyone = overwrites.first(where: { $0.type == 0 && $0.id == guild.rawValue }) {
                raw = (raw & ~everyone.deny) | everyone.allow
            }
            var (deny, allow): (UInt64, UInt64) = (0, 0)
            for overwrite in overwrites where overwrite.type == 0 && overwrite.id != guild.rawValue && roles.contains(where: { $0.rawValue == overwrite.id }) {
                deny |= overwrite.deny
                allow |= overwrite.allow
            }
            raw = (raw & ~deny) | allow
            if let member = overwrites.first(where: { $0.type == 1 && $0.id == user.rawValue }) {
                raw = (raw & ~member.deny) | member.allow
            }
            guard raw & Permissions.viewChannel.rawValue != 0 else { return [] }
            return Permissions(rawValue: raw)
        }
    }

    struct Channel: Sendable {
        var id: ChannelID
        var guild: GuildID?
        var name: String
        var type: Int
        var position: Int
        var parentID: UInt64?
        var topic: String?
        var overwrites: [Overwrite]
        /// For DM channels: the other user.
        var recipient: TrafficWorld.User?
    }

    struct Guild: Sendable {
        let index: Int
        let id: GuildID
        let ownerID: UserID
        let roles: [TrafficWorld.RoleInfo]
        let botRole: RoleID
        var members: [UserID: Member]
        var bans: [UserID: String?] = [:]
        var channels: Set<ChannelID>
        /// The timeouts of members who left (or were kicked or banned) while timed out: on Discord a
        /// timeout outlasts leaving, so whoever comes back comes back timed out.
        var departedTimeouts: [UserID: String] = [:]
        /// Everyone who was a member once and left (or was kicked or banned): whoever of them joins
        /// again is flagged as rejoined.
        var formerMembers: Set<UserID> = []

        /// A member joins (again): with the timeout they left with, if any.
        mutating func join(_ member: Member) {
            var member = member
            if let timeout = departedTimeouts.removeValue(forKey: member.user.id) { member.timeoutUntil = timeout }
            member.didRejoin = formerMembers.contains(member.user.id)
            members[member.user.id] = member
        }

        /// A member leaves, is kicked or banned: the member, if they were one.
        @discardableResult
        mutating func leave(_ user: UserID) -> Member? {
            guard let member = members.removeValue(forKey: user) else { return nil }
            formerMembers.insert(user)
            if let timeout = member.timeoutUntil, (member.timedOutUntilMilliseconds ?? 0) > DiscordTimestamp.nowUnixMilliseconds() {
                departedTimeouts[user] = timeout
            }
            return member
        }

        /// The highest role position a member holds (0: only `@everyone`).
        func highestPosition(_ roleIDs: [RoleID]) -> Int {
            roles.filter { roleIDs.contains($0.id) }.map(\.position).max() ?? 0
        }

        var botPosition: Int { highestPosition([botRole]) }

        /// Whether the bot outranks `user` (the owner is outranked by nobody).
        func botOutranks(_ user: UserID) -> Bool {
            guard user != ownerID else { return false }
            return botPosition > highestPosition(members[user]?.roles ?? [])
        }
    }

    private struct State {
        var guilds: [GuildID: Guild] = [:]
        var channels: [ChannelID: Channel] = [:]
        var dmChannels: [UserID: ChannelID] = [:]
        var nextChannel: UInt64 = 1
    }

    let world: TrafficWorld
    private let state = Mutex(State())
    private let staticChannels: [ChannelID: Int]

    init(world: TrafficWorld) {
        self.world = world
        var channels: [ChannelID: Int] = [:]
        for (index, guild) in world.guilds.enumerated() {
            for channel in guild.channels { channels[channel] = index }
        }
        staticChannels = channels
    }

    /// Runs `body` on a guild's state; nil when the guild does not exist.
    func withGuild<T>(_ id: GuildID, _ body: (inout Guild, inout [ChannelID: Channel]) throws -> T) rethrows -> T? {
        try state.withLock { state in
            guard var guild = take(id, &state) else { return nil }
            defer { state.guilds[id] = guild }
            return try body(&guild, &state.channels)
        }
    }

    /// Runs `body` on a channel and its guild (nil for a DM channel); nil when the channel does
    /// not exist.
    func withChannel<T>(_ id: ChannelID, _ body: (inout Channel, inout Guild?) throws -> T) rethrows -> T? {
        try state.withLock { state in
            if state.channels[id] == nil, let index = staticChannels[id] {
                materialize(world.guilds[index].id, &state)
            }
            guard var channel = state.channels[id] else { return nil }
            var guild = channel.guild.flatMap { take($0, &state) }
            defer {
                if let guild { state.guilds[guild.id] = guild }
                if guild?.channels.contains(id) == false { state.channels[id] = nil } else { state.channels[id] = channel }
            }
            return try body(&channel, &guild)
        }
    }

    /// A guild as a new session's GUILD_CREATE shows it once traffic or REST has touched it.
    struct Snapshot: Sendable {
        /// Its members now, the bot not among them.
        var memberCount: Int
        /// Its channels now, by position.
        var channels: [Channel]
    }

    /// The guild as it is now; nil while nothing has touched it (the world's own is current then).
    func snapshot(of id: GuildID) -> Snapshot? {
        state.withLock { state in
            guard let guild = state.guilds[id] else { return nil }
            let channels = guild.channels.compactMap { state.channels[$0] }.sorted { ($0.position, $0.id.rawValue) < ($1.position, $1.id.rawValue) }
            return Snapshot(memberCount: guild.members.count, channels: channels)
        }
    }

    /// A guild as a new session's traffic starts from once traffic or REST has touched it.
    struct TouchedGuild: Sendable {
        var members: [Member]
        var bans: [UserID]
        /// The channels members post in (text), by position.
        var postableChannels: [ChannelID]
        /// Those channels' permission overwrites, for the channels that have any.
        var overwrites: [ChannelID: [Overwrite]]
        /// Who is timed out until when (Unix milliseconds), members and those who left within their
        /// timeout alike (they come back timed out).
        var timeouts: [(user: UserID, until: UInt64)]
        /// Everyone who left once: a new session's traffic flags them as rejoined when they come back.
        var formerMembers: [UserID]
    }

    /// The guilds at `indexes` that traffic or REST has touched, as they are now, by guild index (a
    /// guild left out is as the world made it).
    func touchedGuilds(ofGuildsAt indexes: [Int]) -> [Int: TouchedGuild] {
        state.withLock { state in
            var found: [Int: TouchedGuild] = [:]
            for index in indexes where world.guilds.indices.contains(index) {
                guard let guild = state.guilds[world.guilds[index].id] else { continue }
                let channels = guild.channels.compactMap { state.channels[$0] }
                    .filter { TrafficGenerator.postableChannelTypes.contains($0.type) }
                    .sorted { ($0.position, $0.id.rawValue) < ($1.position, $1.id.rawValue) }
                found[index] = TouchedGuild(
                    members: Array(guild.members.values), bans: Array(guild.bans.keys), postableChannels: channels.map(\.id),
                    overwrites: Dictionary(uniqueKeysWithValues: channels.filter { !$0.overwrites.isEmpty }.map { ($0.id, $0.overwrites) }),
                    timeouts: guild.members.values.compactMap { member in member.timedOutUntilMilliseconds.map { (member.user.id, $0) } }
                        + guild.departedTimeouts.compactMap { user, text in
                            SimulatedAPI.parseTimestamp(text).map { (user, DiscordTimestamp.unixMilliseconds(of: $0)) }
                        },
                    formerMembers: Array(guild.formerMembers))
            }
            return found
        }
    }

    /// The members of a guild as they are now; nil when the guild does not exist.
    func members(of id: GuildID) -> [Member]? {
        state.withLock { state in
            guard materialize(id, &state) else { return nil }
            return state.guilds[id].map { Array($0.members.values) }
        }
    }

    /// A new channel ID.
    func makeChannelID() -> ChannelID {
        state.withLock { Self.nextChannelID(&$0, world) }
    }

    /// One ID per channel ever made: a millisecond per 4,096, so IDs never repeat.
    private static func nextChannelID(_ state: inout State, _ world: TrafficWorld) -> ChannelID {
        state.nextChannel += 1
        return ChannelID(unixMilliseconds: world.startMilliseconds + (state.nextChannel >> 12), worker: 9, increment: state.nextChannel & 0xFFF)
    }

    /// The DM channel with `user`, made on first use and the same ever after.
    func dmChannel(with user: TrafficWorld.User) -> Channel {
        state.withLock { state in
            if let id = state.dmChannels[user.id], let channel = state.channels[id] { return channel }
            let id = Self.nextChannelID(&state, world)
            let channel = Channel(id: id, guild: nil, name: "", type: 1, position: 0, parentID: nil, topic: nil, overwrites: [], recipient: user)
            state.channels[id] = channel
            state.dmChannels[user.id] = id
            return channel
        }
    }

    /// Keeps membership in step with the traffic that was sent.
    func apply(_ fact: TrafficFact) {
        switch fact {
        case .memberJoined(let guildID, let user, let at, _, let pending):
            state.withLock { state in
                guard var guild = take(guildID, &state) else { return }
                // A join drawn just before a ban and counted after it: the ban removed them (the
                // session that drew it sends the GUILD_MEMBER_REMOVE).
                if guild.bans[user.id] == nil {
                    guild.join(Member(user: user, roles: [], nick: nil, timeoutUntil: nil, joinedAt: at, pending: pending))
                }
                state.guilds[guildID] = guild
            }
        case .memberUpdated(let guildID, let user, _, let pending, let roleChanged):
            state.withLock { state in
                guard var guild = take(guildID, &state) else { return }
                // An update drawn just before a kick and counted after it changes nobody.
                if var member = guild.members[user] {
                    // The one role given or taken, on the roles the member holds now: a role a REST
                    // call gave after the traffic drew the update is kept, as on Discord (the
                    // traffic's own list did not know it). Screening passed changes no role.
                    if let roleChanged {
                        member.roles.removeAll { $0 == roleChanged.role }
                        if roleChanged.given { member.roles.append(roleChanged.role) }
                    }
                    member.pending = pending
                    guild.members[user] = member
                }
                state.guilds[guildID] = guild
            }
        case .memberLeft(let guildID, let user):
            state.withLock { state in
                guard var guild = take(guildID, &state) else { return }
                guild.leave(user)
                state.guilds[guildID] = guild
            }
        default:
            return
        }
    }

    /// The guilds `user` is a member of: each guild's index, the user's roles and whether they own it.
    func memberships(of user: UserID) -> [(index: Int, roles: [RoleID], isOwner: Bool)] {
        let userIndex = world.userIndex(of: user)
        return state.withLock { state in
            world.guilds.enumerated().compactMap { index, source in
                if let guild = state.guilds[source.id] {
                    return guild.members[user].map { (index, $0.roles, guild.ownerID == user) }
                }
                guard let userIndex, let slot = source.members.firstIndex(of: userIndex) else { return nil }
                return (index, world.initialRoles(of: source, slot: slot), slot == 0)
            }
        }
    }

    /// Takes a guild's state out (made from the world first if need be), for a caller that puts
    /// it back changed. Taken out, not copied: a copy would share the member table, and the first
    /// change would then copy all of it (tens of thousands of members, on every join).
    private func take(_ id: GuildID, _ state: inout State) -> Guild? {
        guard materialize(id, &state) else { return nil }
        return state.guilds.removeValue(forKey: id)
    }

    /// Makes a guild's state from the world if it has none yet; false when there is no such guild.
    /// (Whether it is there is all it says: handing the guild out would copy it, with a retain of
    /// each of its tables, on every join and leave.)
    @discardableResult
    private func materialize(_ id: GuildID, _ state: inout State) -> Bool {
        if state.guilds.index(forKey: id) != nil { return true }
        guard let index = world.guildIndex(of: id) else { return false }
        let source = world.guilds[index]
        var members: [UserID: Member] = [:]
        members.reserveCapacity(source.members.count)
        for (slot, userIndex) in source.members.enumerated() {
            let user = world.users[userIndex]
            members[user.id] = Member(
                user: user, roles: world.initialRoles(of: source, slot: slot), nick: world.initialNick(of: source, userIndex: userIndex),
                timeoutUntil: nil, joinedAt: source.joinedAt[slot])
        }
        for (position, channel) in source.channels.enumerated() {
            state.channels[channel] = Channel(
                id: channel, guild: id, name: "channel-\(position + 1)", type: 0, position: position, parentID: nil, topic: nil,
                overwrites: [], recipient: nil)
        }
        let guild = Guild(
            index: index, id: id, ownerID: world.users[source.members[0]].id, roles: world.roles(of: source),
            botRole: world.botRoleID(of: source), members: members, channels: Set(source.channels))
        state.guilds[id] = guild
        return true
    }
}
