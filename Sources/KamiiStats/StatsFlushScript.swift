import KamiiRedis

/// The script that applies one guild's batch, atomically and at most once.
///
/// KEYS[1] is the guild's batch marker; the other keys are built from ARGV[2], the guild's key
/// prefix, which carries the same hash tag (same slot). ARGV: batch id, prefix, cooldown ms,
/// member count, then per member: user id, messages, karma change, grant count, and per grant
/// the message time and XP.
///
/// A batch whose id equals the marker was already applied (a retried flush): nothing happens. A
/// grant is applied only if the member's last XP is at least a cooldown older than the message,
/// so a message replayed after a restart never earns twice. Per member: one HMGET, one HSET and
/// one ZADD whatever it carries; one SADD of the dirty set per batch.
///
/// Replies `{applied, user, level, user, level, …}`: applied is -1 for a repeated batch, else the
/// number of grants applied, followed by the members whose level rose and their new level.
enum StatsFlushScript {
    static let script = RedisScript(#"""
        local marker = KEYS[1]
        if redis.call('GET', marker) == ARGV[1] then return {-1} end
        local prefix = ARGV[2]
        local cooldown = tonumber(ARGV[3])
        local members = tonumber(ARGV[4])
        local function reach(l) return 5 * (l - 1) * l * (2 * l - 1) / 6 + 25 * l * (l - 1) + 100 * l end
        local reply = {0}
        local dirty = {}
        local applied = 0
        local i = 5
        for _ = 1, members do
            local user = ARGV[i]
            local messages = tonumber(ARGV[i + 1])
            local karma = tonumber(ARGV[i + 2])
            local grants = tonumber(ARGV[i + 3])
            i = i + 4
            local key = prefix .. 'u:' .. user
            local now = redis.call('HMGET', key, 'xp', 'level', 'msgs', 'xp_msgs', 'last_xp', 'karma')
            local xp = tonumber(now[1]) or 0
            local level = tonumber(now[2]) or 0
            local xpMessages = tonumber(now[4]) or 0
            local last = tonumber(now[5])
            local gained = 0
            for _ = 1, grants do
                local t = tonumber(ARGV[i])
                if last == nil or t >= last + cooldown then
                    gained = gained + tonumber(ARGV[i + 1])
                    xpMessages = xpMessages + 1
                    last = t
                    applied = applied + 1
                end
                i = i + 2
            end
            local fields = {'msgs', (tonumber(now[3]) or 0) + messages}
            if gained > 0 then
                xp = xp + gained
                local before = level
                while level < 1000 and reach(level + 1) <= xp do level = level + 1 end
                if level > before then
                    reply[#reply + 1] = user
                    reply[#reply + 1] = level
                end
                for _, v in ipairs({'xp', xp, 'level', level, 'xp_msgs', xpMessages, 'last_xp', last}) do fields[#fields + 1] = v end
                redis.call('ZADD', prefix .. 'lb:xp', xp, user)
            end
            if karma ~= 0 then
                local total = (tonumber(now[6]) or 0) + karma
                fields[#fields + 1] = 'karma'
                fields[#fields + 1] = total
                redis.call('ZADD', prefix .. 'lb:karma', total, user)
            end
            redis.call('HSET', key, unpack(fields))
            dirty[#dirty + 1] = user
            if #dirty == 1000 then
                redis.call('SADD', prefix .. 'dirty', unpack(dirty))
                dirty = {}
            end
        end
        if #dirty > 0 then redis.call('SADD', prefix .. 'dirty', unpack(dirty)) end
        redis.call('SET', marker, ARGV[1])
        reply[1] = applied
        return reply
        """#)
}
