extension StatsFlushScript {
    /// The flush script's karma: `karmaFrom(prefix, first, reactions, deleted, pairCooldown)` reads
    /// a guild's karma reactions from ARGV and decides, by the guild's ledger and its pairs' last
    /// karma, what each gives or takes back. A part of ``script`` (it uses that script's `now`,
    /// `week`, `karmaMemory`, `digits` and `call`, its `redis.call`).
    static let karmaFromLedger = #"""
        local indexedMarker = '\#(StatsKeys.karmaIndexedMarker)'
        -- The ledger's entries (field, receiver) for `message` whose emoji key is in `keys` (any
        -- when nil), and out of the index (`karma-index:<week>`: the ledger's fields, all scored 0,
        -- so a message's are one range of it). A ledger the index does not cover (begun by an
        -- earlier version: no marker; or written by one since) is scanned whole instead, matching
        -- the message's digits and a colon.
        local function clearedEntries(ledger, index, message, keys)
            local function wanted(field) return not keys or keys[string.match(field, ':(%d+)$') or ''] end
            local cleared = {}
            -- Trusted only while it holds as many entries as the ledger: an earlier version writing
            -- into this week's ledger (a rollback) adds entries the index does not know, and the
            -- ledger is scanned instead.
            if call('ZSCORE', index, indexedMarker) and call('ZCARD', index) == call('HLEN', ledger) + 1 then
                local fields = {}
                for _, field in ipairs(call('ZRANGEBYLEX', index, '[' .. message .. ':', '(' .. message .. ';')) do
                    if wanted(field) then fields[#fields + 1] = field end
                end
                -- A thousand at a time: within Lua's limit on unpacked arguments.
                for from = 1, #fields, 1000 do
                    local to = math.min(from + 999, #fields)
                    local given = call('HMGET', ledger, unpack(fields, from, to))
                    for f = from, to do
                        if given[f - from + 1] then cleared[#cleared + 1] = {fields[f], given[f - from + 1]} end
                    end
                    call('ZREM', index, unpack(fields, from, to))
                end
                return cleared
            end
            local cursor = '0'
            repeat
                local page = call('HSCAN', ledger, cursor, 'MATCH', message .. ':*', 'COUNT', 1000)
                cursor = page[1]
                for e = 1, #page[2], 2 do
                    if wanted(page[2][e]) then cleared[#cleared + 1] = {page[2][e], page[2][e + 1]} end
                end
            until cursor == '0'
            -- Those given since this version began indexing the ledger.
            for from = 1, #cleared, 1000 do
                local fields = {}
                for c = from, math.min(from + 999, #cleared) do fields[#fields + 1] = cleared[c][1] end
                call('ZREM', index, unpack(fields))
            end
            return cleared
        end

        -- Karma from the guild's reactions, decided by its ledger (`karma:<week>` hashes: reaction →
        -- receiver): a reaction gives once however often it is replayed, a removal takes back what
        -- its reaction gave and nothing else. Returns receiver → change, or nil.
        local function karmaFrom(prefix, first, reactions, deleted, pairCooldown)
            local changes
            for r = 1, reactions do
                local a = first + \#(argumentsPerKarmaReaction) * (r - 1)
                local bucket, reaction, receiver = ARGV[a], ARGV[a + 1], ARGV[a + 2]
                local ledger = prefix .. 'karma:' .. bucket
                local giver = string.match(reaction, '^%d+:(%d+):')
                if reaction == '\#(botEntry)' then
                    -- A bot an actor saw: no karma reaches it, from an actor that has not seen it yet either.
                    call('SADD', prefix .. 'bots', receiver)
                elseif deleted and ((giver and deleted[giver]) or (receiver ~= '' and deleted[receiver])) then
                    -- Given or received by a member deleted since: forgotten with them.
                elseif receiver ~= '' then
                    -- The pair's cooldown, judged here (the actors do not: a fresh one knows no
                    -- pair): the pair's last karma (`karma-pair:<giver>:<receiver>`, when the bot
                    -- received it) is kept until its cooldown ends — from now for a reaction held back
                    -- longer than that, so the next of the same backlog still finds it.
                    local givenAt, pair, last = ARGV[a + 3], nil, nil
                    local at = tonumber(givenAt)
                    if pairCooldown > 0 and giver then
                        pair = prefix .. 'karma-pair:' .. giver .. ':' .. receiver
                        last = tonumber(call('GET', pair))
                    end
                    if last and at < last + pairCooldown then
                        -- Still cooling down: gives nothing, and the ledger does not remember it.
                    elseif call('SISMEMBER', prefix .. 'bots', receiver) == 1 then
                        -- A bot's message (a role menu an actor started since has not seen it post).
                    elseif call('HSETNX', ledger, reaction, receiver) == 1 then
                        if pair then call('SET', pair, givenAt, 'PXAT', digits(math.max(at, now) + pairCooldown)) end
                        -- Kept `karmaMemory` past the end of the message's week (or past now, for an
                        -- older message); a week's hash expires whole, never sooner than it was told.
                        -- The week's index runs out with it.
                        local expireAt = digits(math.max((tonumber(bucket) + 1) * week, now) + karmaMemory)
                        local index = prefix .. 'karma-index:' .. bucket
                        if call('PEXPIREAT', ledger, expireAt, 'NX') == 1 then
                            -- A ledger started now: its index starts with it (whatever an earlier
                            -- ledger of the week left in one goes), holding every entry the ledger
                            -- will, which the marker says, and runs out when the ledger does.
                            call('DEL', index)
                            call('ZADD', index, 0, indexedMarker, 0, reaction)
                            call('PEXPIREAT', index, expireAt)
                        else
                            call('ZADD', index, 0, reaction)
                            if call('PEXPIREAT', ledger, expireAt, 'GT') == 1 then
                                call('PEXPIREAT', index, expireAt)
                            else
                                -- An index begun beside an earlier version's ledger (no marker: the
                                -- ledger is scanned) runs out no later than the ledger.
                                call('PEXPIREAT', index, expireAt, 'NX')
                            end
                        end
                        changes = changes or {}
                        changes[receiver] = (changes[receiver] or 0) + 1
                    end
                elseif string.find(reaction, '*', 1, true) then
                    -- A clear: every giver's reaction to the message (with one of the emoji keys
                    -- listed after `message:*:`, or any), taken back at once.
                    local message, listed = string.match(reaction, '^(%d+):%*:([%d,]+)$')
                    local keys
                    if listed then
                        keys = {}
                        for key in string.gmatch(listed, '%d+') do keys[key] = true end
                    else
                        message = string.match(reaction, '^(%d+):%*$')
                    end
                    local cleared = clearedEntries(ledger, prefix .. 'karma-index:' .. bucket, message or '-', keys)
                    for _, entry in ipairs(cleared) do
                        local field, given = entry[1], entry[2]
                        local by = string.match(field, '^%d+:(%d+):')
                        -- Counted once even if a scan named it twice; a member deleted since is forgotten.
                        if call('HDEL', ledger, field) == 1
                            and not (deleted and ((by and deleted[by]) or deleted[given])) then
                            changes = changes or {}
                            changes[given] = (changes[given] or 0) - 1
                        end
                    end
                else
                    local given = call('HGET', ledger, reaction)
                    if given then
                        call('HDEL', ledger, reaction)
                        call('ZREM', prefix .. 'karma-index:' .. bucket, reaction)
                        -- Karma of a member deleted since is gone already: nothing to take back.
                        if not (deleted and deleted[given]) then
                            changes = changes or {}
                            changes[given] = (changes[given] or 0) - 1
                        end
                    end
                end
            end
            return changes
        end
        """#
}
