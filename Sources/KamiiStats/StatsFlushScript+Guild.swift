extension StatsFlushScript {
    /// Lua defining `applyGuild(...)`: one guild's batch, its members a thousand at a time (one
    /// HMGET, one HSET and a ZADD per leaderboard that changed), its karma, its level-ups kept in
    /// the guild's levelups hash and its returning members' joins in its joins hash. Returns the
    /// grants applied, the level-ups and joins (user, before — -1 for a join —, after, …)
    /// and whether the guild was skipped as unloaded or as having the batch already. Reads the
    /// script's locals defined before it (``script``: the record format and helpers,
    /// ``batchJudgement``, ``karmaFromLedger``, `deletedSince`, `applyKarmaOnly`).
    static let applyGuildFunction = #"""
        local noLevelUps = {}
        -- The records and XP scores of one guild's part at a time, in tables reused from guild to
        -- guild (each is read up to its count): no table built and grown per guild.
        local sharedRecords, sharedScores = {}, {}
        -- One guild's batch: its members' user ids are ARGV[first] to ARGV[first + members - 1], then
        -- come its karma reactions (four arguments each); their changes are in `changes`, in the
        -- same order, the first at `position`.
        -- Returns the grants applied, the level-ups (user, before, after, …) and whether the guild was
        -- skipped as unloaded or as having the batch already.
        local function applyGuild(membersKey, prefix, cooldown, first, members, reactions, pairCooldown, sessionTag, lastSequence, replayTag, changes, position)
            local grantsApplied, ups, upCount = 0, noLevelUps, 0
            -- Returning members' joins: user, level, … (``restoresRewardsFlag``).
            local rejoined, joinCount = noLevelUps, 0
            -- Members whose join is pending screening again.
            local pendingAgain, pendingCount = noLevelUps, 0
            local karmaOf, deleted
            -- Replayed messages (of session `replayTag`) at or below `counted` are in already (-1: none
            -- known); the batch's own session was counted up to `countedHere` (-1: none known).
            local counted, countedHere = -1, -1
            local reached = sessionTag ~= '0' and sessionTag .. ':' .. lastSequence
            -- A thousand members at a time: within Lua's limit on unpacked arguments. The first read
            -- also fetches the batch marker (the hash's `~batch` field) and the time of the guild's
            -- latest deletion (`~deleted`), so a guild costs no call of its own for them, and nothing
            -- is written before they are known. A batch of karma reactions
            -- alone still goes once through (for the marker).
            for from = 1, math.max(members, 1), 1000 do
                local to = math.min(from + 999, members)
                local stored, offset
                local records, recordCount = sharedRecords, 0
                if from == 1 then
                    if readsPositions then
                        stored = call('HMGET', membersKey, '~batch', '\#(StatsKeys.deletedField)', '\#(StatsKeys.positionField)', unpack(ARGV, first, first + to - 1))
                        offset = 3
                    else
                        stored = call('HMGET', membersKey, '~batch', '\#(StatsKeys.deletedField)', unpack(ARGV, first, first + to - 1))
                        offset = 2
                    end
                    local marker = stored[1]
                    if mustBeLoaded and not marker then return 0, ups, true, true end
                    local done, foreign = applied(marker, membersKey)
                    if done then return 0, ups, false, true end
                    if stored[2] and (tonumber(stored[2]) or math.huge) >= since then
                        deleted = deletedSince(prefix, first, members)
                        if deleted['*'] then
                            -- Voided, but the marker it replaces is kept aside as any other's:
                            -- that process's retry is judged by it.
                            if foreign then
                                call('HSET', membersKey, '~batch', batch, othersField, keptAside(marker, call('HGET', membersKey, othersField)))
                            else
                                call('HSET', membersKey, '~batch', batch)
                            end
                            return 0, ups, false, false
                        end
                    end
                    if readsPositions then
                        local storedTag, storedSequence = string.match(stored[3] or '', '^(%d+):(%d+)$')
                        if storedTag == replayTag then counted = tonumber(storedSequence) end
                        if storedTag == sessionTag then countedHere = tonumber(storedSequence) end
                    end
                    records[1], records[2], recordCount = '~batch', batch, 2
                    if foreign then
                        records[3], records[4], recordCount = othersField, keptAside(marker, call('HGET', membersKey, othersField)), 4
                    end
                    -- Never back within a session: a replay flushed in parts ends each part below
                    -- what an earlier process counted. (Without replays, `s` only grows.)
                    if writesPositions and reached and tonumber(lastSequence) > countedHere then
                        records[recordCount + 1], records[recordCount + 2], recordCount = '\#(StatsKeys.positionField)', reached, recordCount + 2
                    end
                    if reactions > 0 then karmaOf = karmaFrom(prefix, first + members, reactions, deleted, pairCooldown) end
                else
                    stored = call('HMGET', membersKey, unpack(ARGV, first + from - 1, first + to - 1))
                    offset = 0
                end
                local xpScores, xpCount, karmaScores, karmaCount = sharedScores, 0, nil, 0
                for m = from, to do
                    local user = ARGV[first + m - 1]
                    local added, flags, pa, pj, pp, pv, pt, grants, firstTime, firstXP
                    added, flags, grants, firstTime, firstXP, position = unpackBytes(memberFormat, changes, position)
                    if flags % 2 == 1 then pa, pj, pp, pv, pt, position = unpackBytes(profileFormat, changes, position) end
                    -- A member deleted since their changes may have been recorded gets none of them.
                    if deleted and deleted[user] then
                        if karmaOf then karmaOf[user] = nil end
                        -- Past their grants and replayed messages, to the next member's changes.
                        if grants > 1 then position = position + \#(grantSize) * (grants - 1) end
                        if flags >= 2 and flags % 4 >= 2 then position = position + 4 + 8 * unpackBytes('<i4', changes, position) end
                    else
                        -- readRecord inlined for the binary record (a Lua call and its eleven returns,
                        -- per member, were 2 % of Redis's instructions); no record yet: its zeros and -1s.
                        local value = stored[m - from + 1 + offset]
                        local xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = 0, 0, 0, 0, -1, 0, -1, -1, -1, -1, -1
                        if value then
                            if #value == recordSize and byte(value, 1) == 1 then
                                local _
                                _, xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = unpackBytes(format, value)
                                if xp - xp + lastXP - lastXP + joined - joined ~= 0 then notFinite(user) end
                            else
                                xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = readText(value, user)
                            end
                        end
                        msgs = msgs + added
                        local accepted, lastBefore = 0, lastXP
                        for g = 1, grants do
                            -- The first grant came with the member's numbers.
                            local t, x = firstTime, firstXP
                            if g > 1 then t, x, position = unpackBytes(grantFormat, changes, position) end
                            if lastXP < 0 or t >= lastXP + cooldown then
                                xp = xp + x
                                accepted = accepted + 1
                                lastXP = t
                            end
                        end
                        -- Compared first as a whole: the usual member has no flag at all.
                        if flags >= 2 and flags % 4 >= 2 then
                            local replayed, s
                            replayed, position = unpackBytes('<i4', changes, position)
                            for _ = 1, replayed do
                                s, position = unpackBytes('<d', changes, position)
                                if s > counted then msgs = msgs + 1 end
                            end
                        end
                        if accepted > 0 then
                            grantsApplied = grantsApplied + accepted
                            xpMessages = xpMessages + accepted
                            local before = level
                            while level < 1000 and reach(level + 1) <= xp do level = level + 1 end
                            if level > before then
                                if upCount == 0 then ups = {} end
                                ups[upCount + 1], ups[upCount + 2], ups[upCount + 3] = user, before, level
                                upCount = upCount + 3
                            end
                            xpScores[xpCount + 1], xpScores[xpCount + 2] = xp, user
                            xpCount = xpCount + 2
                        end
                        local karma = karmaOf and karmaOf[user]
                        if karma then karmaOf[user] = nil end
                        if karma and karma ~= 0 then
                            total = clampKarma(total + karma)
                            if karmaCount == 0 then karmaScores = {} end
                            karmaScores[karmaCount + 1], karmaScores[karmaCount + 2] = total, user
                            karmaCount = karmaCount + 2
                        end
                        -- A returning member (a level above 0) is owed their rewards again, at a join or
                        -- once past screening (the record, before this profile, says they joined
                        -- pending); a newcomer nothing. Discord may announce a member again who never
                        -- left: a join with the joined_at the record holds is that same membership, and
                        -- so is one — the record holding none — from before the last XP it counts
                        -- (earned as a member since). Another joined_at than the record's is a return,
                        -- if one missed and the member has posted since.
                        if flags >= 4 and level > 0 and ((flags % 8 >= 4 and (pj <= 0 or (pj ~= joined and (joined > 0 or pj > lastBefore)))) or pending == 1) then
                            if joinCount == 0 then rejoined = {} end
                            rejoined[joinCount + 1], rejoined[joinCount + 2] = user, level
                            joinCount = joinCount + 2
                        end
                        if flags % 2 == 1 then
                            if pp == 1 and flags % 8 < 4 then
                                if pendingCount == 0 then pendingAgain = {} end
                                pendingCount = pendingCount + 1
                                pendingAgain[pendingCount] = user
                            end
                            avatar = pa
                            -- Not said (joined_at null or unreadable: 0; pending, verified: -1): the record's stays.
                            if pj > 0 then joined = pj end
                            if pp >= 0 then pending = pp end
                            if pv >= 0 then verified = pv end
                            -- A known member keeps the checkpoint's trust (it counts activity and karma,
                            -- which a member event does not know) until the next checkpoint.
                            if trust < 0 then trust = pt end
                        end
                        -- Counts past what the record holds stay at its limit rather than wrap.
                        if msgs > 2147483647 then msgs = 2147483647 end
                        if xpMessages > 2147483647 then xpMessages = 2147483647 end
                        records[recordCount + 1] = user
                        records[recordCount + 2] = pack(format, 1, xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified)
                        recordCount = recordCount + 2
                    end
                end
                if recordCount > 0 then call('HSET', membersKey, unpack(records, 1, recordCount)) end
                if xpCount > 0 then call('ZADD', prefix .. 'lb:xp', unpack(xpScores, 1, xpCount)) end
                if karmaCount > 0 then call('ZADD', prefix .. 'lb:karma', unpack(karmaScores)) end
            end
            if karmaOf then applyKarmaOnly(membersKey, prefix, karmaOf) end
            -- Level-ups wait in the guild's levelups hash (user → from:to, merged with one not
            -- carried out yet) until the rewarder has carried them out: a crash or a restart in
            -- between loses none.
            for from = 1, upCount, 3000 do
                local to = math.min(from + 2999, upCount)
                local upUsers = {}
                for k = from, to, 3 do upUsers[#upUsers + 1] = ups[k] end
                local waitingKey = prefix .. 'levelups'
                local waiting = call('HMGET', waitingKey, unpack(upUsers))
                local entries = {}
                for k = from, to, 3 do
                    local before = ups[k + 1]
                    local earlier = waiting[(k - from) / 3 + 1]
                    local earlierFrom = earlier and tonumber(string.match(earlier, '^(%d+):'))
                    if earlierFrom and earlierFrom < before then before = earlierFrom end
                    entries[#entries + 1] = ups[k]
                    entries[#entries + 1] = before .. ':' .. ups[k + 2]
                end
                call('HSET', waitingKey, unpack(entries))
            end
            -- Joins wait likewise, in the joins hash (user → this batch's id: what marks that join,
            -- not a later one, done), and are reported after the level-ups, with -1 as the level
            -- before. A member back pending screening is owed nothing until they pass (a role would
            -- let them skip it): an older join or level-up of theirs still waiting goes — passing
            -- is a join, which gives their level's rewards.
            for from = 1, joinCount, 2000 do
                local entries, count = {}, 0
                for k = from, math.min(from + 1999, joinCount), 2 do
                    entries[count + 1], entries[count + 2], count = rejoined[k], batch, count + 2
                end
                call('HSET', prefix .. 'joins', unpack(entries, 1, count))
            end
            for from = 1, pendingCount, 1000 do
                call('HDEL', prefix .. 'joins', unpack(pendingAgain, from, math.min(from + 999, pendingCount)))
                call('HDEL', prefix .. 'levelups', unpack(pendingAgain, from, math.min(from + 999, pendingCount)))
            end
            if joinCount > 0 and upCount == 0 then ups = {} end
            for k = 1, joinCount, 2 do
                ups[upCount + 1], ups[upCount + 2], ups[upCount + 3] = rejoined[k], -1, rejoined[k + 1]
                upCount = upCount + 3
            end
            return grantsApplied, ups, false, false
        end
        """#
}
