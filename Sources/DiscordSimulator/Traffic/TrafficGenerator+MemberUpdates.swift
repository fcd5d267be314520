import DiscordModels

/// GUILD_MEMBER_UPDATE in the traffic: roles given and taken, Membership Screening passed; and
/// GUILD_MEMBER_ADD sent again for a member, as Discord may.
extension TrafficGenerator {
    /// A member's update: a newcomer passing screening (most of the time, while anyone in the
    /// guilds talked about is still pending — they click through within minutes, so the pending stay
    /// few), else a plain role given or taken in the guild at `guildIndex`; nil when the pick turned
    /// up nobody.
    mutating func memberUpdate(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        if !pendingMembers.isEmpty, random.chance(60) {
            let waiting = pendingMembers[random.below(pendingMembers.count)]
            return screeningPassed(waiting.user, inGuildAt: waiting.guild, into: &json)
        }
        if random.chance(5) { return announcedAgain(in: guildIndex, into: &json) }
        return roleChange(in: guildIndex, into: &json)
    }

    /// GUILD_MEMBER_ADD for someone who is a member already — "this event may also be sent for
    /// users who are already members of the guild" (Discord's docs) — saying the member as they
    /// are: their roles, their `joined_at`. Nothing changes: no join, no return.
    mutating func announcedAgain(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let drawn = drawMember(of: guildIndex, acting: false)
        guard drawn.found, !isPending(drawn.pick.user, inGuildAt: guildIndex) else { return nil }
        guildMemberEvent(drawn.pick, roles: roles(of: drawn.pick, in: guildIndex), pending: false, inGuildAt: guildIndex, into: &json)
        let guildID = world.guilds[guildIndex].id
        return GeneratedEvent(
            name: "GUILD_MEMBER_ADD", data: json.bytes, guild: guildID,
            fact: .memberAnnouncedAgain(guild: guildID, user: identity(of: drawn.pick.user).id))
    }

    /// A moderator (or a role menu's bot) gives a member one of the guild's plain roles, or takes
    /// it back when they hold it. Plain roles grant no permission: who may do what stays as it was,
    /// but for channels whose overwrites name the role.
    mutating func roleChange(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        let plain = TrafficWorld.plainRoleCount(among: guild.roles.count)
        guard plain > 0 else { return nil }
        let drawn = drawMember(of: guildIndex, acting: false)
        guard drawn.found, !isPending(drawn.pick.user, inGuildAt: guildIndex) else { return nil }
        let role = guild.roles[random.below(plain)]
        var roles = roles(of: drawn.pick, in: guildIndex)
        let held = roles.firstIndex(of: role)
        if let held { roles.remove(at: held) } else { roles.append(role) }
        override(drawn.pick.user, inGuildAt: guildIndex, roles: roles, nick: nick(of: drawn.pick, in: guildIndex))
        return memberUpdateEvent(
            drawn.pick, roles: roles, pending: false, roleChanged: RoleChange(role: role, given: held == nil), inGuildAt: guildIndex, into: &json)
    }

    /// A pending newcomer passes Membership Screening: from now on they may post and react.
    mutating func screeningPassed(_ user: Int, inGuildAt guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        pendingMembers.removeAll { $0 == (guildIndex, user) }
        guard let joinedAt = joined[guildIndex]?.first(where: { $0.user == user })?.at else { return nil }
        let picked = PickedMember(user: user, joinedAt: joinedAt, slot: nil)
        return memberUpdateEvent(picked, roles: roles(of: picked, in: guildIndex), pending: false, inGuildAt: guildIndex, into: &json)
    }

    /// Whether a member of the guild at `guildIndex` has not yet passed its screening.
    func isPending(_ user: Int, inGuildAt guildIndex: Int) -> Bool {
        !pendingMembers.isEmpty && pendingMembers.contains { $0 == (guildIndex, user) }
    }

    /// A GUILD_MEMBER_UPDATE as Discord sends it: the whole member, its user and guild.
    private mutating func memberUpdateEvent(
        _ picked: PickedMember, roles: [RoleID], pending: Bool, roleChanged: RoleChange? = nil, inGuildAt guildIndex: Int, into json: inout JSONBytes
    ) -> GeneratedEvent {
        let guildID = world.guilds[guildIndex].id
        guildMemberEvent(picked, roles: roles, pending: pending, inGuildAt: guildIndex, into: &json)
        return GeneratedEvent(
            name: "GUILD_MEMBER_UPDATE", data: json.bytes, guild: guildID,
            fact: .memberUpdated(guild: guildID, user: identity(of: picked.user).id, roles: roles, pending: pending, roleChanged: roleChanged))
    }

    /// The `d` of GUILD_MEMBER_ADD and GUILD_MEMBER_UPDATE: a guild member object with its user
    /// and `guild_id`, `pending` always said (as in every GUILD_ event).
    mutating func guildMemberEvent(_ picked: PickedMember, roles: [RoleID], pending: Bool, inGuildAt guildIndex: Int, into json: inout JSONBytes) {
        json.raw(#"{"user":"#)
        user(picked.user, into: &json)
        json.raw(#","roles":["#)
        json.ids(roles)
        json.raw(#"],"premium_since":null,"pending":"#)
        json.raw(pending ? "true" : "false")
        json.raw(#","nick":"#)
        if let nick = nick(of: picked, in: guildIndex) { json.string(nick) } else { json.raw("null") }
        json.raw(#","mute":false,"joined_at":"#)
        json.timestamp(unixMilliseconds: picked.joinedAt)
        json.raw(#","flags":"#)
        json.int(memberFlags(of: picked, in: guildIndex))
        json.raw(#","deaf":false,"communication_disabled_until":"#)
        // A timeout outlasts leaving: whoever comes back within it comes back timed out.
        if isTimedOut(picked.user, inGuildAt: guildIndex), let until = timeouts[UInt64(guildIndex) << 32 | UInt64(picked.user)] {
            json.timestamp(unixMilliseconds: until)
        } else {
            json.raw("null")
        }
        json.raw(#","avatar":null,"guild_id":"#)
        json.id(world.guilds[guildIndex].id)
        json.raw("}")
    }
}
