import DiscordModels
import KamiiRedis

extension RedisPipeline {
    /// Appends ``StatsKeys/members(in:)`` of `guild`, written in place rather than built as a String.
    mutating func appendMembersKey(_ keys: StatsKeys, _ guild: UInt64) {
        appendArgument(keys.prefix, ":{", guild, "}:members")
    }

    /// Appends ``StatsKeys/guildPrefix(_:)`` of `guild`, written in place.
    mutating func appendGuildPrefix(_ keys: StatsKeys, _ guild: UInt64) {
        appendArgument(keys.prefix, ":{", guild, "}:")
    }

    /// Marks members for the checkpointer: one SADD per guild into its dirty set, in the order
    /// given, then one naming the guilds in ``StatsKeys/dirtyGuilds`` (so the replies come in that order).
    mutating func appendDirtyMarks(_ keys: StatsKeys, _ members: [(guild: UInt64, users: some Collection<UInt64>)]) {
        for (guild, users) in members {
            beginCommand(arguments: 2 + users.count)
            appendArgument("SADD")
            appendArgument(keys.dirtyMembers(in: GuildID(guild)))
            for user in users { appendArgument(user) }
        }
        beginCommand(arguments: 2 + members.count)
        appendArgument("SADD")
        appendArgument(keys.dirtyGuilds)
        for (guild, _) in members { appendArgument(guild) }
    }
}

extension StatsKeys {
    /// Appends ``members(in:)`` of `guild` to `bytes` (an argument made of many keys), without a String.
    func appendMembersKey(of guild: UInt64, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: prefix.utf8)
        bytes.append(contentsOf: ":{".utf8)
        RedisPipeline.appendDecimal(guild, to: &bytes)
        bytes.append(contentsOf: "}:members".utf8)
    }
}
