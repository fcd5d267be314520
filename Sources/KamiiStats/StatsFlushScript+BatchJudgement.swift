extension StatsFlushScript {
    /// Lua defining `applied(marker, key)`: whether the guild whose members hash `key` holds batch
    /// marker `marker` has this call's batch (ARGV[1]) applied. A batch id is a process's prefix
    /// and a counter: a batch at or below the last applied one of the same process is a repeat (a
    /// retry, or a stale copy arriving late). Most guilds of a call hold one of a few markers (the
    /// batches before this one): each is judged once. A marker of another process (the shard moved,
    /// a rolling restart) says nothing of this one's batches: the markers it replaced were kept
    /// aside (`keptAside`, in the hash's `~batch-others` field), and this process's last among them
    /// is judged instead — else a retry whose first copy was applied, its reply lost, would be
    /// applied again once another process had flushed the guild.
    static let batchJudgement = """
        local batch = ARGV[1]
        local batchProcess, batchNumber = string.match(batch, '^(.*)-(%d+)$')
        batchNumber = tonumber(batchNumber)
        local verdicts = {}
        local othersField = '\(StatsKeys.otherProcessesBatchField)'
        local function appliedAmong(others)
            if type(others) ~= 'string' or not batchNumber then return false end
            for entry in string.gmatch(others, '[^ ]+') do
                local process, number = string.match(entry, '^(.*)-(%d+)$')
                if process == batchProcess then return tonumber(number) >= batchNumber end
            end
            return false
        end
        -- The process of a batch marker; nil for a load's (`hydrated`).
        local function processOf(marker)
            return string.match(marker, '^(.*)-%d+$')
        end
        -- Also says whether `marker` is another process's batch (to keep aside once replaced): a
        -- second value, so the usual guild parses no marker again.
        local function applied(marker, key)
            if not marker then return false, false end
            if marker == batch then return true, false end
            local verdict = verdicts[marker]
            if verdict == nil then
                local process, number = string.match(marker, '^(.*)-(%d+)$')
                -- A load's or a purge's (`hydrated`) starts a fresh hash: nothing kept aside.
                if process == nil then
                    verdicts[marker] = false
                    return false, false
                end
                if process ~= batchProcess then
                    return appliedAmong(redis.call('HGET', key, othersField)), true
                end
                verdict = batchNumber ~= nil and tonumber(number) >= batchNumber
                verdicts[marker] = verdict
            end
            return verdict, false
        end
        -- What `~batch-others` holds once `marker`, another process's, is replaced by this batch:
        -- it first, then the others kept before but its process's and this one's, eight at most.
        local function keptAside(marker, others)
            local list, count, replaced = {marker}, 1, processOf(marker)
            if type(others) == 'string' then
                for entry in string.gmatch(others, '[^ ]+') do
                    local process = processOf(entry)
                    if count < 8 and process ~= replaced and process ~= batchProcess then
                        count = count + 1
                        list[count] = entry
                    end
                end
            end
            return table.concat(list, ' ')
        end
        """
}
