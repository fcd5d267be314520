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

extension StatsKeys {
    /// Appends ``members(in:)`` of `guild` to `bytes` (an argument made of many keys), without a String.
    func appendMembersKey(of guild: UInt64, to bytes: inout [UInt8]) {
        bytes.append(contentsOf: prefix.utf8)
        bytes.append(contentsOf: ":{".utf8)
        RedisPipeline.appendDecimal(guild, to: &bytes)
        bytes.append(contentsOf: "}:members".utf8)
    }
}
