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
}
