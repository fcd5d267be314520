import DiscordModels

/// Joins, leaves and raids: who is in a guild changes as the traffic goes on.
extension TrafficGenerator {
    /// A user who is not a member joins (Discord never announces a member twice); nil when no
    /// such user turned up.
    mutating func memberAdd(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        if isMember[guildIndex] == nil { isMember[guildIndex] = Set(guild.members) }
        var candidate: Int?
        for _ in 0..<32 {
            let user = random.below(world.users.count)
            if isMember[guildIndex]?.contains(user) == false, banned[guildIndex]?.contains(user) != true {
                candidate = user
                break
            }
        }
        guard let candidate else { return nil }
        return join(candidate, guildIndex: guildIndex, raid: false, into: &json)
    }

    mutating func join(_ user: Int, guildIndex: Int, raid: Bool, into json: inout JSONBytes) -> GeneratedEvent {
        let guild = world.guilds[guildIndex]
        // Inserted in place: copying a big guild's member set per join would cost more than the event.
        isMember[guildIndex, default: Set(guild.members)].insert(user)
        // A world member coming back stays `departed`: their world slot (roles, joined_at) is not
        // theirs any more; they are picked as the newcomer they are.
        joined[guildIndex, default: []].append((user, clock))
        // Where the guild screens newcomers, they wait to pass it before they may post or react.
        let pending = world.screensNewMembers(guild)
        if pending { pendingMembers.append((guildIndex, user)) }
        // A newcomer: no roles, no nickname (whatever REST gave them before they left went with them).
        let newcomer = PickedMember(user: user, joinedAt: clock, slot: nil)
        guildMemberEvent(newcomer, roles: [], pending: pending, inGuildAt: guildIndex, into: &json)
        if !pending, let system = guild.channels.first, let greeting = joinMessage(for: newcomer, inGuildAt: guildIndex) {
            followUp = (greeting, system, guildIndex)
        }
        return GeneratedEvent(
            name: "GUILD_MEMBER_ADD", data: json.bytes, guild: guild.id,
            fact: .memberJoined(guild: guild.id, user: self.user(at: user), at: clock, raid: raid, pending: pending))
    }

    /// A member leaves; nil when the pick turned up nobody still in the guild.
    mutating func memberRemove(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        let user = pickMember(of: guildIndex).user
        // The owner never leaves their guild, and a guild keeps a few members.
        guard user != guild.members[0], isMember[guildIndex].map({ $0.contains(user) }) ?? !(departed[guildIndex]?.contains(user) ?? false),
              worldMembersAway(from: guildIndex) < guild.members.count / 2
        else { return nil }
        markGone(user, from: guildIndex)
        json.raw(#"{"user":"#)
        self.user(user, into: &json)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw("}")
        return GeneratedEvent(
            name: "GUILD_MEMBER_REMOVE", data: json.bytes, guild: guild.id,
            fact: .memberLeft(guild: guild.id, user: self.user(at: user).id))
    }

    /// Takes a member out of a guild (they left, or were kicked or banned): they no longer post, and
    /// whoever comes back comes back without what REST gave them.
    mutating func markGone(_ user: Int, from guildIndex: Int) {
        departed[guildIndex, default: []].insert(user)
        isMember[guildIndex, default: Set(world.guilds[guildIndex].members)].remove(user)
        joined[guildIndex]?.removeAll { $0.user == user }
        if !pendingMembers.isEmpty { pendingMembers.removeAll { $0 == (guildIndex, user) } }
        memberOverrides[UInt64(guildIndex) << 32 | UInt64(user)] = nil
    }

    /// World members who left the guild and are not back: the guild keeps at least half of its own.
    func worldMembersAway(from guildIndex: Int) -> Int {
        guard let departed = departed[guildIndex] else { return 0 }
        guard let members = isMember[guildIndex] else { return departed.count }
        return departed.reduce(0) { $0 + (members.contains($1) ? 0 : 1) }
    }

    /// The next event of a raid: mostly a brand-new account joining, sometimes one of the raiders
    /// who already joined posting.
    mutating func raidEvent(_ wave: (guild: Int, remaining: Int), into json: inout JSONBytes) -> GeneratedEvent {
        let raiders = joined[wave.guild]?.filter { $0.user >= world.users.count } ?? []
        if !raiders.isEmpty, random.chance(25) {
            let raider = raiders[random.below(raiders.count)]
            // A raider still held by screening clicks through it first.
            if isPending(raider.user, inGuildAt: wave.guild), let passed = screeningPassed(raider.user, inGuildAt: wave.guild, into: &json) {
                return passed
            }
            // Raiders post in the first channel there is, unless a moderator timed them out or locked it.
            let author = PickedMember(user: raider.user, joinedAt: raider.at, slot: nil)
            if let channel = channels(ofGuildAt: wave.guild).first, !isTimedOut(raider.user, inGuildAt: wave.guild),
               may(author, [.viewChannel, .sendMessages], in: channel, guildAt: wave.guild) {
                return messageCreate(in: wave.guild, channel: channel, author: author, into: &json)
            }
        }
        raid = wave.remaining > 1 ? (wave.guild, wave.remaining - 1) : nil
        let created = clock - UInt64(random.below(600_000))
        let account = TrafficWorld.User(
            id: UserID(unixMilliseconds: created, worker: 7, process: UInt64(raidUsers.count >> 12) & 0x1F, increment: UInt64(raidUsers.count)),
            username: "free_nitro_" + String(random.below(100_000)),
            avatar: nil,
            isBot: false)
        raidUsers.append(account)
        return join(world.users.count + raidUsers.count - 1, guildIndex: wave.guild, raid: true, into: &json)
    }
}

/// Starting from the members as earlier sessions and REST left them.
extension TrafficGenerator {
    /// Takes up, for the guilds it talks about, who is a member now (`current`: each guild's members,
    /// by guild index, for the guilds traffic or REST has touched): a world member gone does not post
    /// or leave again, one who came back is a newcomer, a newcomer of an earlier session (a raider
    /// too) posts once through screening and is not announced again, everyone keeps the roles and
    /// nickname REST or the traffic gave them, and the banned do not join again.
    mutating func adoptMembers(_ current: [Int: GuildStates.TouchedGuild]) {
        // Raid accounts of earlier sessions, numbered on from the world's users as raids number them.
        var raiders: [UserID: Int] = [:]
        // In a fixed order (guilds by index, members by when they joined), so the same history
        // gives the same traffic.
        pendingMembers.removeAll()
        for guildIndex in current.keys.sorted() where talkedAboutIndex(of: world.guilds[guildIndex].id) == guildIndex {
            let guild = world.guilds[guildIndex]
            let members = current[guildIndex]!.members.sorted { ($0.joinedAt, $0.user.id.rawValue) < ($1.joinedAt, $1.user.id.rawValue) }
            var present = Set<Int>()
            present.reserveCapacity(members.count)
            var newcomers: [(user: Int, at: UInt64)] = []
            var gone = Set<Int>()
            for member in members {
                let index: Int
                if let known = world.userIndex(of: member.user.id) ?? raiders[member.user.id] {
                    index = known
                } else {
                    index = adoptRaider(member.user)
                    raiders[member.user.id] = index
                }
                present.insert(index)
                let key = UInt64(guildIndex) << 32 | UInt64(index)
                let slot = slot(of: index, in: guildIndex)
                if let slot, guild.joinedAt[slot] == member.joinedAt {
                    if member.roles != world.initialRoles(of: guild, slot: slot) || member.nick != world.initialNick(of: guild, userIndex: index) {
                        memberOverrides[key] = (member.roles, member.nick)
                    }
                } else {
                    // Not (or no longer) the world's member in a slot: a newcomer, as when they joined.
                    if slot != nil { gone.insert(index) }
                    newcomers.append((index, member.joinedAt))
                    if member.pending { pendingMembers.append((guildIndex, index)) }
                    if !member.roles.isEmpty || member.nick != nil { memberOverrides[key] = (member.roles, member.nick) }
                }
            }
            for user in guild.members where !present.contains(user) { gone.insert(user) }
            // Those who left once, world users or not, are flagged as rejoined when they come back.
            for user in current[guildIndex]!.formerMembers {
                if let index = world.userIndex(of: user) ?? raiders[user] { gone.insert(index) }
            }
            isMember[guildIndex] = present
            departed[guildIndex] = gone.isEmpty ? nil : gone
            joined[guildIndex] = newcomers.isEmpty ? nil : newcomers
            // A banned raid account of an earlier session cannot come back: raids make new ones.
            let bans = Set(current[guildIndex]!.bans.compactMap { world.userIndex(of: $0) ?? raiders[$0] })
            banned[guildIndex] = bans.isEmpty ? nil : bans
        }
    }

    /// A raid account of an earlier session, known from here on.
    private mutating func adoptRaider(_ user: TrafficWorld.User) -> Int {
        raidUsers.append(user)
        return world.users.count + raidUsers.count - 1
    }
}
