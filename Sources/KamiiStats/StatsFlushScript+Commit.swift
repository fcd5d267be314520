import KamiiRedis

extension StatsFlushScript {
    /// Writes records (the shards' sessions at a flush's positions) only if every guild of the flush
    /// has it applied and the change journal has its entry. The guilds of the transaction it ends
    /// confirm themselves: each script call adds how many of its guilds have the batch to a counter
    /// (mode 4), which the commit reads and deletes first of all — so it never outlives the
    /// transaction, whatever fails after — and compares with how many there are. Guilds applied in
    /// an earlier round trip (a backlog in parts) are judged by their markers instead: Redis may have
    /// lost them since. (One of those whose keys are not Kamii's fails the commit's read; the
    /// records then go after the flush, as after any refused commit.)
    ///
    /// KEYS: the counter when ARGV[3] is not empty, then the members hashes of the guilds applied
    /// earlier (their `~batch` fields are the markers), then the change journal when ARGV[2] names a
    /// field. ARGV: the batch id, the journal field (empty: none), the number of guilds that must
    /// confirm (empty: no counter), then key, value and time to live in ms per record. Replies 1 when
    /// written, 0 when a guild or the entry is not in (yet). Runs last in the flush's MULTI/EXEC; the
    /// records' keys are in another slot (single Redis only).
    static let commit = RedisScript(#"""
        \#(batchJudgement)
        \#(ForwardOnlyRecord.luaFunction)
        local first, last = 1, #KEYS
        if ARGV[3] ~= '' then
            local confirmed = tonumber(redis.call('GETDEL', KEYS[1]) or '0')
            if confirmed ~= tonumber(ARGV[3]) then return 0 end
            first = 2
        end
        if ARGV[2] ~= '' then
            last = last - 1
            if redis.call('HEXISTS', KEYS[#KEYS], ARGV[2]) == 0 then return 0 end
        end
        for k = first, last do
            if not applied(redis.call('HGET', KEYS[k], '~batch')) then return 0 end
        end
        -- Never an earlier `s` of the same session over a later one (the shard manager's periodic
        -- save writes these keys too, and the two may finish in either order).
        for r = 4, #ARGV, 3 do forwardOnlySet(ARGV[r], ARGV[r + 1], ARGV[r + 2]) end
        return 1
        """#)
}
