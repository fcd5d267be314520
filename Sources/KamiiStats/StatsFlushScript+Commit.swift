import KamiiRedis

extension StatsFlushScript {
    /// Writes records (the shards' sessions at a flush's positions) only if every guild of the flush
    /// has it applied and the change journal has its entry. The guilds of the transaction it ends
    /// confirm themselves: each script call adds how many of its guilds have the batch to a counter
    /// (mode 4), which the commit reads and deletes first of all — so it never outlives the
    /// transaction, whatever fails after — and compares with how many there are. Guilds applied in
    /// an earlier round trip (a backlog in parts) are judged by their markers instead: Redis may have
    /// lost them since. (One of those whose keys are not Kamii's refuses it; the records then go
    /// after the flush, as after any refused commit.)
    ///
    /// Refused, it keeps instead the position of each guild of the transaction that has the batch
    /// (ARGV[4], ``PendingFlush``'s lines): their calls wrote none, since the sessions were to be
    /// saved with them, and a kill before the sessions go in later must not replay their messages
    /// into counts that hold them. A position is kept as the flush script keeps one: never back
    /// within a session.
    ///
    /// KEYS: the counter when ARGV[3] is not empty, then the members hashes of the guilds applied
    /// earlier (their `~batch` fields are the markers), then the change journal when ARGV[2] names a
    /// field. ARGV: the batch id, the journal field (empty: none), the number of guilds that must
    /// confirm (empty: no counter), the positions to keep if refused (`members key<TAB>tag:s` lines),
    /// then key, value and time to live in ms per record. Replies 1 when written, 0 when a guild or
    /// the entry is not in (yet). Runs last in the flush's MULTI/EXEC; the records' keys and the
    /// positions' hashes are in other slots (single Redis only).
    static let commit = RedisScript(#"""
        \#(batchJudgement)
        \#(ForwardOnlyRecord.luaFunction)
        local function everythingIn()
            local first, last = 1, #KEYS
            if ARGV[3] ~= '' then
                local confirmed = tonumber(redis.call('GETDEL', KEYS[1]) or '0')
                if confirmed ~= tonumber(ARGV[3]) then return false end
                first = 2
            end
            if ARGV[2] ~= '' then
                last = last - 1
                -- A journal that is not Kamii's (WRONGTYPE) refused the entry: a refusal, not an error.
                if redis.pcall('HEXISTS', KEYS[#KEYS], ARGV[2]) ~= 1 then return false end
            end
            for k = first, last do
                -- A hash that is not Kamii's (WRONGTYPE) is not a guild with the batch either.
                local marker = redis.pcall('HGET', KEYS[k], '\#(StatsKeys.batchField)')
                if type(marker) == 'table' or not applied(marker, KEYS[k]) then return false end
            end
            return true
        end
        if not everythingIn() then
            for key, position in string.gmatch(ARGV[4], '([^\t\n]+)\t([^\n]+)\n') do
                if redis.pcall('HGET', key, '\#(StatsKeys.batchField)') == ARGV[1] then
                    local kept = redis.call('HGET', key, '\#(StatsKeys.positionField)')
                    local keptTag, keptSequence = string.match(kept or '', '^(%d+):(%d+)$')
                    local tag, sequence = string.match(position, '^(%d+):(%d+)$')
                    if tag and (keptTag ~= tag or tonumber(sequence) > tonumber(keptSequence)) then
                        redis.call('HSET', key, '\#(StatsKeys.positionField)', position)
                    end
                end
            end
            return 0
        end
        -- Never an earlier `s` of the same session over a later one (the shard manager's periodic
        -- save writes these keys too, and the two may finish in either order).
        for r = 5, #ARGV, 3 do forwardOnlySet(ARGV[r], ARGV[r + 1], ARGV[r + 2]) end
        return 1
        """#)
}
