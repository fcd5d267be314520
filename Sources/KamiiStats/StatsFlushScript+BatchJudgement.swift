extension StatsFlushScript {
    /// Lua defining `applied(marker)`: whether a guild whose batch marker is `marker` has this
    /// call's batch (ARGV[1]) applied. A batch id is a process's prefix and a counter: a batch at or
    /// below the last applied one of the same process is a repeat (a retry, or a stale copy
    /// arriving late). Most guilds of a call hold one of a few markers (the batches before this
    /// one): each is judged once.
    static let batchJudgement = """
        local batch = ARGV[1]
        local batchProcess, batchNumber = string.match(batch, '^(.*)-(%d+)$')
        batchNumber = tonumber(batchNumber)
        local verdicts = {}
        local function applied(marker)
            if not marker then return false end
            if marker == batch then return true end
            local verdict = verdicts[marker]
            if verdict == nil then
                local process, number = string.match(marker, '^(.*)-(%d+)$')
                verdict = process ~= nil and process == batchProcess and batchNumber ~= nil and tonumber(number) >= batchNumber
                verdicts[marker] = verdict
            end
            return verdict
        end
        """
}
