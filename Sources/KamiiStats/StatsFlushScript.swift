import KamiiRedis

/// The script that applies guilds' batches, each atomically and at most once.
///
/// KEYS are the guilds' batch markers, one per guild; every other key of a guild is built from its
/// key prefix, which carries the guild's hash tag (its marker's slot). On Redis Cluster one call
/// carries one guild; on a single Redis, many. ARGV: the batch id, whether a guild must have been
/// loaded first (1 when a SQL store can rehydrate it), then per guild: its key prefix,
/// its cooldown in ms and its member count, then per member: user id, messages, karma change,
/// profile (`avatar:joined:pending:verified:trust` from a member event, or empty), grant count, and
/// per grant the message time and XP.
///
/// A guild whose marker holds this batch id, or a later one of the same process, had it applied (a
/// retried flush, or a stale copy arriving late): nothing happens to it. A grant is applied only if the member's last XP is at least a cooldown older than
/// the message, so a message replayed after a restart never earns twice. Per member: one HMGET,
/// one HSET and a ZADD per leaderboard it changed; per guild one SADD of the dirty set.
///
/// A guild with no marker at all is one this Redis never saw, or lost (restarted empty, flushed):
/// when a store can rehydrate it, nothing is applied and the reply says so (-2), so its members'
/// totals are loaded from SQL before anything is added to them.
///
/// Replies, per guild in order: applied grants (-1 for a repeated batch, -2 for a guild to
/// rehydrate first), the number of level-ups, then each level-up's user, level before and new level.
enum StatsFlushScript {
    /// Writes records (the shards' sessions at a flush's positions) only if every guild of the flush
    /// has it applied: KEYS are all the flush's batch markers; ARGV the batch id, then key, value and
    /// time to live in ms per record. Replies 1 when written, 0 when a guild is not in (yet). Runs
    /// last in the flush's MULTI/EXEC; the records' keys are in another slot (single Redis only).
    static let commit = RedisScript(#"""
        local batch = ARGV[1]
        local batchProcess, batchNumber = string.match(batch, '^(.*)-(%d+)$')
        batchNumber = tonumber(batchNumber)
        for k = 1, #KEYS do
            local marker = redis.call('GET', KEYS[k])
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
        local reply = {}
        local i = 3
        for g = 1, #KEYS do
            local prefix = ARGV[i]
            local users, xpBoard = prefix .. 'u:', prefix .. 'lb:xp'
            local cooldown = tonumber(ARGV[i + 1])
            local members = tonumber(ARGV[i + 2])
            i = i + 3
            local marker = redis.call('GET', KEYS[g])
            local unloaded = mustBeLoaded and not marker
            local skip = unloaded or applied(marker)
            local grantsApplied = 0
            local ups = {}
            local dirty = {}
            for _ = 1, members do
                local user = ARGV[i]
                local messages = tonumber(ARGV[i + 1])
                local karma = tonumber(ARGV[i + 2])
                local profile = ARGV[i + 3]
                local grants = tonumber(ARGV[i + 4])
                i = i + 5
                if skip then
                    i = i + 2 * grants
                else
                    local key = users .. user
                    local now = redis.call('HMGET', key, 'xp', 'level', 'msgs', 'xp_msgs', 'last_xp', 'karma')
                    local xp = tonumber(now[1]) or 0
                    local level = tonumber(now[2]) or 0
                    local xpMessages = tonumber(now[4]) or 0
                    local last = tonumber(now[5])
                    local gained = 0
                    local accepted = 0
                    for _ = 1, grants do
                        local t = tonumber(ARGV[i])
                        if last == nil or t >= last + cooldown then
                            gained = gained + tonumber(ARGV[i + 1])
                            accepted = accepted + 1
                            xpMessages = xpMessages + 1
                            last = t
                            grantsApplied = grantsApplied + 1
                        end
                        i = i + 2
                    end
                    local msgs = (tonumber(now[3]) or 0) + messages
                    if accepted > 0 then
                        xp = xp + gained
                        local before = level
                        while level < 1000 and reach(level + 1) <= xp do level = level + 1 end
                        if level > before then
                            ups[#ups + 1] = user
                            ups[#ups + 1] = before
                            ups[#ups + 1] = level
                        end
                        redis.call('HSET', key, 'msgs', msgs, 'xp', xp, 'level', level, 'xp_msgs', xpMessages, 'last_xp', last)
                        redis.call('ZADD', xpBoard, xp, user)
                    else
                        redis.call('HSET', key, 'msgs', msgs)
                    end
                    if karma ~= 0 then
                        local total = (tonumber(now[6]) or 0) + karma
                        redis.call('HSET', key, 'karma', total)
                        redis.call('ZADD', prefix .. 'lb:karma', total, user)
                    end
                    if profile ~= '' then
                        local a, j, p, v, t = string.match(profile, '^(%d+):(%d+):(%d+):(%d+):(%d+)$')
                        if a then
                            redis.call('HSET', key, 'avatar', a, 'joined', j, 'pending', p, 'verified', v)
                            -- A known member keeps the checkpoint's trust (it counts activity and
                            -- karma, which a member event does not know) until the next checkpoint.
                            redis.call('HSETNX', key, 'trust', t)
                        end
                    end
                    dirty[#dirty + 1] = user
                    if #dirty == 1000 then
                        redis.call('SADD', prefix .. 'dirty', unpack(dirty))
                        dirty = {}
                    end
                end
            end
            if not skip then
                if #dirty > 0 then redis.call('SADD', prefix .. 'dirty', unpack(dirty)) end
                redis.call('SET', KEYS[g], batch)
            end
            reply[#reply + 1] = unloaded and -2 or (skip and -1 or grantsApplied)
            reply[#reply + 1] = #ups / 3
            for _, v in ipairs(ups) do reply[#reply + 1] = v end
        end
        return reply
        """#)
}
