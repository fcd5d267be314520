public import DiscordModels

/// How a REST call changed the world, for the traffic of the sessions serving the guild.
enum TrafficChange: Sendable {
    /// Kicked, or gone with a ban: no longer posts.
    case removed(UserID)
    /// Roles, nickname or timeout changed.
    case updated(GuildStates.Member)
    /// Banned: gone, and does not join again until unbanned.
    case banned(UserID)
    case unbanned(UserID)
    /// A channel made: members post in it when it is a text channel and its permission overwrites
    /// let them.
    case channelCreated(ChannelID, type: Int, overwrites: [GuildStates.Overwrite])
    /// A channel's permission overwrites as they are now (a lockdown denies `@everyone` Send Messages).
    case channelUpdated(ChannelID, overwrites: [GuildStates.Overwrite])
    /// A channel deleted: nothing is posted in it, or in its threads, any more.
    case channelDeleted(ChannelID)
    /// An archived thread taken out of the archive (the bot posted in it): messages come to it again.
    case threadUnarchived(ChannelID)
}

/// What REST changed, as the traffic follows it: who is a member, with which roles and nickname,
/// who is timed out, which channels there are to post in and who may post in each.
extension TrafficGenerator {
    /// The channel types members post messages in: text. (Announcement channels would need their own
    /// shapes — `channel_type` 5, threads of type 10 — which the traffic does not render.)
    static let postableChannelTypes: Set<Int> = [0]

    /// Changes the traffic of `guild` to match a REST call (nothing for a guild it does not talk about).
    mutating func apply(_ change: TrafficChange, in guild: GuildID) {
        guard let guildIndex = talkedAboutIndex(of: guild) else { return }
        switch change {
        case .removed(let user):
            if let userIndex = userIndex(of: user) { markGone(userIndex, from: guildIndex) }
        case .updated(let member):
            updateMember(member, inGuildAt: guildIndex)
        case .banned(let user):
            if let userIndex = userIndex(of: user) { banned[guildIndex, default: []].insert(userIndex) }
        case .unbanned(let user):
            if let userIndex = userIndex(of: user) { banned[guildIndex]?.remove(userIndex) }
        case .channelCreated(let channel, let type, let overwrites):
            guard Self.postableChannelTypes.contains(type) else { return }
            var list = channels(ofGuildAt: guildIndex)
            if !list.contains(channel) { list.append(channel) }
            changedChannels[guildIndex] = list
            channelOverwrites[channel] = overwrites.isEmpty ? nil : overwrites
        case .channelUpdated(let channel, let overwrites):
            channelOverwrites[channel] = overwrites.isEmpty ? nil : overwrites
        case .channelDeleted(let channel):
            forgetChannel(channel, inGuildAt: guildIndex)
        case .threadUnarchived(let thread):
            guard let position = archivedThreads[guildIndex]?.firstIndex(where: { $0.id == thread }) else { return }
            threads[guildIndex, default: []].append(archivedThreads[guildIndex]!.remove(at: position))
            threadChange = (guildIndex, threadChange.count &+ 1)
        }
    }

    /// The GUILD_MEMBER_REMOVE `d` of a user banned just after this traffic drew their join, so the
    /// ban's REST call found no member to remove (on Discord a ban always removes the member); the
    /// member is taken out. Nil when the user is no member in this traffic.
    mutating func removalByBan(of user: UserID, in guild: GuildID) -> [UInt8]? {
        guard let guildIndex = talkedAboutIndex(of: guild), let userIndex = userIndex(of: user),
              isMember[guildIndex]?.contains(userIndex) == true
        else { return nil }
        markGone(userIndex, from: guildIndex)
        var json = JSONBytes()
        json.raw(#"{"user":"#)
        self.user(userIndex, into: &json)
        json.raw(#","guild_id":"#)
        json.id(guild)
        json.raw("}")
        return json.bytes
    }

    /// Whether the user left the guild in this traffic (a leave drawn in the instant before a kick or
    /// ban that still found them a member): the kick's GUILD_MEMBER_REMOVE would be a second one.
    func hasLeft(_ user: UserID, from guild: GuildID) -> Bool {
        guard let guildIndex = talkedAboutIndex(of: guild), let userIndex = userIndex(of: user), let members = isMember[guildIndex] else { return false }
        return !members.contains(userIndex)
    }

    /// Shows a member with the roles and nickname a REST call gave them from now on.
    public mutating func updateMember(_ user: UserID, in guild: GuildID, roles: [RoleID], nick: String?) {
        guard let guildIndex = talkedAboutIndex(of: guild), let userIndex = userIndex(of: user) else { return }
        override(userIndex, inGuildAt: guildIndex, roles: roles, nick: nick)
    }

    /// A member as REST left them: their roles and nickname from now on, and no act of theirs
    /// while they are timed out.
    mutating func updateMember(_ member: GuildStates.Member, inGuildAt guildIndex: Int) {
        guard let userIndex = userIndex(of: member.user.id) else { return }
        override(userIndex, inGuildAt: guildIndex, roles: member.roles, nick: member.nick)
        timeouts[UInt64(guildIndex) << 32 | UInt64(userIndex)] = member.timedOutUntilMilliseconds
    }

    /// A member's roles and nickname from now on (their kept member object is rendered again).
    mutating func override(_ userIndex: Int, inGuildAt guildIndex: Int, roles: [RoleID], nick: String?) {
        memberOverrides[UInt64(guildIndex) << 32 | UInt64(userIndex)] = (roles, nick)
        if let slot = slot(of: userIndex, in: guildIndex) {
            memberObjects.forget(memberSlotBase[guildIndex] + slot)
        }
    }

    /// The channels members of the guild at `guildIndex` post in now.
    func channels(ofGuildAt guildIndex: Int) -> [ChannelID] {
        if changedChannels.isEmpty { return world.guilds[guildIndex].channels }
        return changedChannels[guildIndex] ?? world.guilds[guildIndex].channels
    }

    /// One of the guild's channels to post in; nil when it has none left.
    mutating func pickChannel(inGuildAt guildIndex: Int) -> ChannelID? {
        let channels = channels(ofGuildAt: guildIndex)
        guard !channels.isEmpty else { return nil }
        return channels[random.below(channels.count)]
    }

    /// A channel is gone, and its threads with it: no message, typing, reaction or interaction
    /// names them again.
    mutating func forgetChannel(_ channel: ChannelID, inGuildAt guildIndex: Int) {
        channelOverwrites[channel] = nil
        var list = channels(ofGuildAt: guildIndex)
        if list.contains(channel) {
            list.removeAll { $0 == channel }
            changedChannels[guildIndex] = list
        }
        var gone: Set<ChannelID> = [channel]
        let active = threads[guildIndex] ?? [], archived = archivedThreads[guildIndex] ?? []
        for thread in active + archived where thread.parent == channel { gone.insert(thread.id) }
        if gone.count > 1 {
            threads[guildIndex] = active.filter { !gone.contains($0.id) }
            archivedThreads[guildIndex] = archived.filter { !gone.contains($0.id) }
            threadChange = (guildIndex, threadChange.count &+ 1)
        }
        recentMessages.removeAll { gone.contains($0.channel) }
        recentReactions.removeAll { gone.contains($0.message.channel) }
    }

    /// Whether a member may do all of `needs` in a channel (for a thread, its parent channel), by
    /// its permission overwrites; a channel without any leaves members their guild permissions,
    /// which let everyone post.
    func may(_ member: PickedMember, _ needs: Permissions, in channel: ChannelID, guildAt guildIndex: Int) -> Bool {
        guard !channelOverwrites.isEmpty, channelOverwrites[channel] != nil else { return true }
        return permissions(of: member, in: channel, guildAt: guildIndex).isSuperset(of: needs)
    }

    /// A member's permissions in a channel (for a thread, its parent channel), as an interaction's
    /// `member.permissions` carries them.
    func permissions(of member: PickedMember, in channel: ChannelID, guildAt guildIndex: Int) -> Permissions {
        let guild = world.guilds[guildIndex]
        let roles = roles(of: member, in: guildIndex)
        let base = world.permissions(of: guild, roles: roles, isOwner: member.user == guild.members[0])
        guard let overwrites = channelOverwrites[channel] else { return base }
        return GuildStates.Overwrite.apply(overwrites, to: base, guild: guild.id, roles: roles, user: identity(of: member.user).id)
    }

    /// The bot's permissions in a channel, as an interaction's `app_permissions` carries them.
    func botPermissions(in channel: ChannelID, guildAt guildIndex: Int) -> Permissions {
        let guild = world.guilds[guildIndex]
        let role = world.botRoleID(of: guild)
        let base = world.permissions(of: guild, roles: [role], isOwner: false)
        guard let overwrites = channelOverwrites[channel] else { return base }
        return GuildStates.Overwrite.apply(overwrites, to: base, guild: guild.id, roles: [role], user: botUserID)
    }

    /// Whether the bot may view `channel` (for a thread, its parent): Discord sends no event of a
    /// channel to a bot that may not view it.
    func botViews(_ channel: ChannelID, guildAt guildIndex: Int) -> Bool {
        guard !channelOverwrites.isEmpty, channelOverwrites[channel] != nil else { return true }
        return botPermissions(in: channel, guildAt: guildIndex).contains(.viewChannel)
    }

    /// `event`, marked as not sent when the bot may not view `channel`.
    func visible(_ event: GeneratedEvent, in channel: ChannelID, guildAt guildIndex: Int) -> GeneratedEvent {
        guard !botViews(channel, guildAt: guildIndex) else { return event }
        var hidden = event
        hidden.botCanView = false
        return hidden
    }

    /// Whether a member is timed out now (by the wall clock, as Discord judges it): they may not
    /// post, react, type, open threads or use commands.
    mutating func isTimedOut(_ user: Int, inGuildAt guildIndex: Int) -> Bool {
        guard !timeouts.isEmpty else { return false }
        let key = UInt64(guildIndex) << 32 | UInt64(user)
        guard let until = timeouts[key] else { return false }
        if DiscordTimestamp.nowUnixMilliseconds() < until { return true }
        timeouts[key] = nil
        return false
    }

    /// Takes up, for the guilds it talks about that REST or earlier traffic touched, the channels
    /// there are to post in (with their permission overwrites) and who is timed out; threads of a channel deleted meanwhile are gone.
    mutating func adoptChannelsAndTimeouts(_ current: [Int: GuildStates.TouchedGuild]) {
        for guildIndex in current.keys.sorted() where talkedAboutIndex(of: world.guilds[guildIndex].id) == guildIndex {
            let guild = current[guildIndex]!
            if guild.postableChannels != world.guilds[guildIndex].channels { changedChannels[guildIndex] = guild.postableChannels }
            for (channel, overwrites) in guild.overwrites { channelOverwrites[channel] = overwrites }
            let kept = Set(guild.postableChannels)
            for parent in Set(((threads[guildIndex] ?? []) + (archivedThreads[guildIndex] ?? [])).map(\.parent)) where !kept.contains(parent) {
                forgetChannel(parent, inGuildAt: guildIndex)
            }
            for (user, until) in guild.timeouts {
                guard let userIndex = userIndex(of: user) else { continue }
                timeouts[UInt64(guildIndex) << 32 | UInt64(userIndex)] = until
            }
        }
    }
}
