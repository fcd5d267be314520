/// A Redis string that only moves forward: `v1 <position> <lineage> <anything>`. Two writers that
/// may finish in either order (a shard's periodic session save and the stats flusher's) never put
/// an earlier position of a lineage back over a later one; a new lineage always replaces the old.
public enum ForwardOnlyRecord {
    /// Lua defining `forwardOnlySet(key, value, ttl)`: writes `value` with a time to live of `ttl`
    /// ms and returns 1, unless the key holds the same lineage at a later position — then only
    /// renews its time to live and returns 0. For scripts to include.
    public static let luaFunction = """
        local function forwardOnlySet(key, value, ttl)
            local old = redis.call('GET', key)
            if old then
                local oldPosition, oldLineage = string.match(old, '^v1 (%d+) (%S+) ')
                local position, lineage = string.match(value, '^v1 (%d+) (%S+) ')
                if oldLineage and lineage and oldLineage == lineage and tonumber(oldPosition) > tonumber(position) then
                    redis.call('PEXPIRE', key, ttl)
                    return 0
                end
            end
            redis.call('SET', key, value, 'PX', ttl)
            return 1
        end
        """

    /// A script of its own: KEYS[1] the key; ARGV the value and its time to live in ms.
    public static let set = luaFunction + "\nreturn forwardOnlySet(KEYS[1], ARGV[1], ARGV[2])\n"
}
