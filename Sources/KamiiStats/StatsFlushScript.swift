import KamiiRedis

/// The script that applies guilds' batches, each atomically and at most once.
///
/// KEYS are the guilds' members hashes, one per guild (each holds its guild's batch marker, field
/// `~batch`); every other key of a guild is built from its key prefix, which carries the guild's
/// hash tag (its members hash's slot). On Redis Cluster one call carries one guild; on a single
/// Redis, many. ARGV: the batch id, whether a guild must have been
/// loaded first (1 when a SQL store can rehydrate it), then per guild: its key prefix,
/// its cooldown in ms and its member count, then per member its user id and its changes packed
/// little-endian (`struct` format `<i4i4Bbdbbbi4`: messages, karma change, whether a member event
/// brought a profile, the profile's avatar, joined (ms), pending, verified and trust, the grant
/// count; then per grant `<di4`: the message time in ms and the XP) — numbers unpacked in one call
/// rather than converted one argument at a time.
///
/// A guild whose marker holds this batch id, or a later one of the same process, had it applied (a
/// retried flush, or a stale copy arriving late): nothing happens to it. A grant is applied only if
/// the member's last XP is at least a cooldown older than the message, so a message replayed after a
/// restart never earns twice. Per guild (per thousand members): one HMGET and one HSET of its
/// members hash (the marker and each member's ``MemberRecord``), one ZADD per leaderboard that
/// changed and one SADD of the dirty set — Redis's cost is mostly per call, and a flush of 5,000
/// changes holds one or two members of most guilds.
///
/// A guild with no marker at all is one this Redis never saw, or lost (restarted empty, flushed):
/// when a store can rehydrate it, nothing is applied and the reply says so (-2), so its members'
/// totals are loaded from SQL before anything is added to them.
///
/// Replies, per guild in order: applied grants (-1 for a repeated batch, -2 for a guild to
/// rehydrate first), the number of level-ups, then each level-up's user, level before and new level;
/// or, for a guild whose keys are not what Kamii writes, -3, 0 and Redis's error (its batch is not
/// sent again: some of it may have been applied).
enum StatsFlushScript {
    /// Writes records (the shards' sessions at a flush's positions) only if every guild of the flush
    /// has it applied: KEYS are all the flush's members hashes (their `~batch` fields are the
    /// markers); ARGV the batch id, then key, value and
    /// time to live in ms per record. Replies 1 when written, 0 when a guild is not in (yet). Runs
    /// last in the flush's MULTI/EXEC; the records' keys are in another slot (single Redis only).
    static let commit = RedisScript(#"""
        local batch = ARGV[1]
        local batchProcess, batchNumber = string.match(batch, '^(.*)-(%d+)$')
        batchNumber = tonumber(batchNumber)
        for k = 1, #KEYS do
            local marker = redis.call('HGET', KEYS[k], '~batch')
            local ok = marker == batch
            if not ok and marker then
                local process, number = string.match(marker, '^(.*)-(%d+)$')
                ok = process ~= nil and process == batchProcess and batchNumber ~= nil and tonumber(number) >= batchNumber
            end
            if not ok then return 0 end
        end
        -- Never an earlier `s` of the same session over a later one (the shard manager's periodic
        -- save writes these keys too, and the two may finish in either order).
        for r = 2, #ARGV, 3 do
            local old = redis.call('GET', ARGV[r])
            local keep = false
            if old then
                local oldSequence, oldSession = string.match(old, '^v1 (%d+) (%S+) ')
                local sequence, session = string.match(ARGV[r + 1], '^v1 (%d+) (%S+) ')
                keep = oldSession ~= nil and oldSession == session and tonumber(oldSequence) > tonumber(sequence)
            end
            if keep then redis.call('PEXPIRE', ARGV[r], ARGV[r + 2]) else redis.call('SET', ARGV[r], ARGV[r + 1], 'PX', ARGV[r + 2]) end
        end
        return 1
        """#)

    static let script = RedisScript(#"""
        local function reach(l) return 5 * (l - 1) * l * (2 * l - 1) / 6 + 25 * l * (l - 1) + 100 * l end
        local batch = ARGV[1]
        -- A batch id is a process's prefix and a counter: a batch at or below the last applied
        -- one of the same process is a repeat (a retry, or a stale copy arriving late).
        local batchProcess, batchNumber = string.match(batch, '^(.*)-(%d+)$')
        batchNumber = tonumber(batchNumber)
        local function applied(marker)
            if not marker then return false end
            if marker == batch then return true end
            local process, number = string.match(marker, '^(.*)-(%d+)$')
            return process ~= nil and process == batchProcess and batchNumber ~= nil and tonumber(number) >= batchNumber
        end
        local mustBeLoaded = ARGV[2] == '1'
        local changeFormat, grantFormat = '<i4i4Bbdbbbi4', '<di4'
        local format, legacy = '\#(MemberRecord.luaFormat)', '\#(MemberRecord.luaPattern)'
        local function int32(n)
            if n > 2147483647 then return 2147483647 elseif n < -2147483648 then return -2147483648 end
            return n
        end
        -- A member's record: the binary form, or the text form of earlier versions (read, then
        -- written back binary). A record that cannot be read is not overwritten with zeros: its
        -- guild fails alone.
        local function readRecord(value, user)
            if #value == \#(MemberRecord.storedSize) and string.byte(value, 1) == 1 then
                local _, xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = struct.unpack(format, value)
                return xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified
            end
            local s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 = string.match(value, legacy)
            if not s1 then error({err = 'KAMII-BROKEN unreadable member record of ' .. user .. ': ' .. value}) end
            return tonumber(s1) or 0, tonumber(s2) or 0, tonumber(s3) or 0, tonumber(s4) or 0, tonumber(s5) or -1, tonumber(s6) or 0,
                tonumber(s7) or -1, tonumber(s8) or -1, tonumber(s9) or -1, tonumber(s10) or -1, tonumber(s11) or -1
        end
        local reply = {}
        local i = 3
        for g = 1, #KEYS do
            local prefix = ARGV[i]
            local xpBoard = prefix .. 'lb:xp'
            local cooldown = tonumber(ARGV[i + 1])
            local members = tonumber(ARGV[i + 2])
            i = i + 3
            local grantsApplied = 0
            local ups = {}
            -- Where each member's arguments start (read before any command, so a guild that fails
            -- cannot put the next guilds' arguments out of step).
            local starts = {}
            for _ = 1, members do
                starts[#starts + 1] = i
                i = i + 2
            end
            local unloaded, skip = false, false
            -- A guild whose keys are not what Kamii writes (WRONGTYPE: a key set by hand, another
            -- program under the same prefix; a member record that cannot be read) fails alone: its
            -- batch counts as applied — some of its writes may be done, so sending it again could
            -- count them twice — and the reply says why; every other guild goes on.
            local ok, failure = pcall(function()
                local membersKey = KEYS[g]
                -- A thousand members at a time: within Lua's limit on unpacked arguments. The first
                -- read also fetches the batch marker (the hash's `~batch` field), so a guild costs
                -- no call of its own for it, and nothing is written before it is known.
                for first = 1, #starts, 1000 do
                    local last = math.min(first + 999, #starts)
                    local fields = {}
                    if first == 1 then fields[1] = '~batch' end
                    for m = first, last do fields[#fields + 1] = ARGV[starts[m]] end
                    local stored = redis.call('HMGET', membersKey, unpack(fields))
                    local offset = 0
                    local records = {}
                    if first == 1 then
                        local marker = stored[1]
                        unloaded = mustBeLoaded and not marker
                        skip = unloaded or applied(marker)
                        if skip then return end
                        offset = 1
                        records[1], records[2] = '~batch', batch
                    end
                    local dirty, xpScores, karmaScores = {}, {}, {}
                    for m = first, last do
                        local a = starts[m]
                        local user = ARGV[a]
                        local added, karma, hasProfile, pa, pj, pp, pv, pt, grants, position = struct.unpack(changeFormat, ARGV[a + 1])
                        local xp, level, msgs, xpMessages, lastXP, total = 0, 0, 0, 0, -1, 0
                        local trust, avatar, joined, pending, verified = -1, -1, -1, -1, -1
                        local value = stored[m - first + 1 + offset]
                        if value then
                            xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = readRecord(value, user)
                        end
                        msgs = msgs + added
                        local gained, accepted = 0, 0
                        for _ = 1, grants do
                            local t, x
                            t, x, position = struct.unpack(grantFormat, ARGV[a + 1], position)
                            if lastXP < 0 or t >= lastXP + cooldown then
                                gained = gained + x
                                accepted = accepted + 1
                                lastXP = t
                            end
                        end
                        if accepted > 0 then
                            grantsApplied = grantsApplied + accepted
                            xpMessages = xpMessages + accepted
                            xp = xp + gained
                            local before = level
                            while level < 1000 and reach(level + 1) <= xp do level = level + 1 end
                            if level > before then
                                ups[#ups + 1] = user
                                ups[#ups + 1] = before
                                ups[#ups + 1] = level
                            end
                            -- Formatted once, for the record and the leaderboard (number formatting is
                            -- much of the script's cost).
                            xpScores[#xpScores + 1] = xp
                            xpScores[#xpScores + 1] = user
                        end
                        if karma ~= 0 then
                            total = total + karma
                            karmaScores[#karmaScores + 1] = total
                            karmaScores[#karmaScores + 1] = user
                        end
                        if hasProfile == 1 then
                            avatar, joined, pending, verified = pa, pj, pp, pv
                            -- A known member keeps the checkpoint's trust (it counts activity and
                            -- karma, which a member event does not know) until the next checkpoint.
                            if trust < 0 then trust = pt end
                        end
                        records[#records + 1] = user
                        records[#records + 1] = struct.pack(format, 1, xp, level, int32(msgs), int32(xpMessages), lastXP, int32(total),
                            trust, avatar, joined, pending, verified)
                        dirty[#dirty + 1] = user
                    end
                    redis.call('HSET', membersKey, unpack(records))
                    redis.call('SADD', prefix .. 'dirty', unpack(dirty))
                    if #xpScores > 0 then redis.call('ZADD', xpBoard, unpack(xpScores)) end
                    if #karmaScores > 0 then redis.call('ZADD', prefix .. 'lb:karma', unpack(karmaScores)) end
                end
                -- Level-ups wait in the guild's levelups hash (user → from:to, merged with one
                -- not carried out yet) until the rewarder has carried them out: a crash or a
                -- restart in between loses none.
                local waitingKey = prefix .. 'levelups'
                for first = 1, #ups, 3000 do
                    local last = math.min(first + 2999, #ups)
                    local users = {}
                    for k = first, last, 3 do users[#users + 1] = ups[k] end
                    local waiting = redis.call('HMGET', waitingKey, unpack(users))
                    local entries = {}
                    for k = first, last, 3 do
                        local from = ups[k + 1]
                        local earlier = waiting[(k - first) / 3 + 1]
                        local earlierFrom = earlier and tonumber(string.match(earlier, '^(%d+):'))
                        if earlierFrom and earlierFrom < from then from = earlierFrom end
                        entries[#entries + 1] = ups[k]
                        entries[#entries + 1] = from .. ':' .. ups[k + 2]
                    end
                    redis.call('HSET', waitingKey, unpack(entries))
                end
            end)
            if not ok then
                local message = type(failure) == 'table' and (failure.err or 'error') or tostring(failure)
                -- Anything else (OOM, READONLY, MISCONF: refused at the script's first write, before
                -- anything was written) fails the whole call, and the flush is sent again.
                if string.sub(message, 1, 9) ~= 'WRONGTYPE' and string.sub(message, 1, 12) ~= 'KAMII-BROKEN' then error(failure) end
                reply[#reply + 1] = -3
                reply[#reply + 1] = 0
                reply[#reply + 1] = message
            else
                reply[#reply + 1] = unloaded and -2 or (skip and -1 or grantsApplied)
                reply[#reply + 1] = #ups / 3
                for _, v in ipairs(ups) do reply[#reply + 1] = v end
            end
        end
        return reply
        """#)
}
