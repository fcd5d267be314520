import KamiiRedis

/// The scripts of a guild's load from SQL (``StatsFlusher``'s hydration), each step guarded by
/// the guild's load lock (`<prefix>:{g}:loading`, holding the loader's token).
///
/// Two processes may find the same guild missing at once (a rolling restart, a shard moving): the
/// one that finishes first marks the guild loaded and its flushes add to the rows. A second
/// loader that read SQL earlier and wrote after that would put the older totals back over them,
/// and one that cleared an unfinished load would leave the first with rows missing under a
/// marker. So one loader at a time holds the lock, every write checks it still does and that the
/// guild is not loaded yet, and the lock runs out if its holder dies (each step renews it).
enum GuildLoadScripts {
    /// How long a load lock lasts past its holder's latest step.
    static let lockLifetimeMilliseconds = 120_000

    /// KEYS: the members hash, the lock. ARGV: the token, the lifetime (ms). Returns `loaded` when
    /// the guild has its marker (another loader finished), `locked` when the lock is now the
    /// caller's, `busy` when another loader holds it.
    static let acquire = RedisScript("""
        if redis.call('HEXISTS', KEYS[1], '\(StatsKeys.batchField)') == 1 then return 'loaded' end
        if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 'locked' end
        return 'busy'
        """)

    /// What a step replies: done; nothing done, the lock is no longer the caller's; nothing done,
    /// the guild is loaded already (another loader finished, or a privacy purge marked it).
    static let done = 1, lockLost = 0, alreadyLoaded = 2

    /// The guard every step starts with: the guild not loaded and the lock still the caller's;
    /// then the lock is renewed. (KEYS[1] the members hash, the lock the last KEY.)
    private static let stillOurs = """
        local lock = KEYS[#KEYS]
        if redis.call('HEXISTS', KEYS[1], '\(StatsKeys.batchField)') == 1 then return \(alreadyLoaded) end
        if redis.call('GET', lock) ~= ARGV[1] then return \(lockLost) end
        redis.call('PEXPIRE', lock, ARGV[2])
        """

    /// Clears what an unfinished load left (KEYS: the members hash, the leaderboards, the lock;
    /// ARGV: token, lifetime): a guild without its batch marker holds nothing else but the time of
    /// its latest privacy deletion, which stays (the flush reads it to leave out changes recorded
    /// before the deletion). Replies as every step does (``done``, ``lockLost``, ``alreadyLoaded``).
    static let clearUnloaded = RedisScript("""
        \(stillOurs)
        local deleted = redis.call('HGET', KEYS[1], '\(StatsKeys.deletedField)')
        redis.call('DEL', unpack(KEYS, 1, #KEYS - 1))
        if deleted then redis.call('HSET', KEYS[1], '\(StatsKeys.deletedField)', deleted) end
        return \(done)
        """)

    /// Writes a part of the rows (KEYS: the members hash, the XP and karma leaderboards, the lock;
    /// ARGV: token, lifetime, then three groups, each a count and that many pairs: user and record
    /// for the hash, score and user for each leaderboard).
    static let writePart = RedisScript("""
        \(stillOurs)
        local i = 3
        for k = 1, 3 do
            local count = tonumber(ARGV[i])
            if count > 0 then redis.call(k == 1 and 'HSET' or 'ZADD', KEYS[k], unpack(ARGV, i + 1, i + 2 * count)) end
            i = i + 1 + 2 * count
        end
        return \(done)
        """)

    /// Takes out the members SQL no longer holds (deleted while the guild loaded), marks the guild
    /// loaded and releases the lock (KEYS: the members hash, the leaderboards, the lock; ARGV: the
    /// token, then the members to take out). Replies ``done``, or ``lockLost`` / ``alreadyLoaded``
    /// with nothing done — a record another loader's guild has since is not this one's to delete.
    static let finish = RedisScript("""
        local lock = KEYS[#KEYS]
        if redis.call('GET', lock) ~= ARGV[1] then
            if redis.call('HEXISTS', KEYS[1], '\(StatsKeys.batchField)') == 1 then return \(alreadyLoaded) end
            return \(lockLost)
        end
        for first = 2, #ARGV, 1000 do
            local last = math.min(first + 999, #ARGV)
            redis.call('HDEL', KEYS[1], unpack(ARGV, first, last))
            for k = 2, #KEYS - 1 do redis.call('ZREM', KEYS[k], unpack(ARGV, first, last)) end
        end
        redis.call('HSETNX', KEYS[1], '\(StatsKeys.batchField)', 'hydrated')
        redis.call('DEL', lock)
        return \(done)
        """)

    /// Renews the lock, if still the caller's and the guild not loaded (KEYS: the members hash, the
    /// lock; ARGV: token, lifetime): a load checking a guild of millions against SQL, page after
    /// page, writes nothing meanwhile that would. Replies as every step does.
    static let renew = RedisScript("""
        \(stillOurs)
        return \(done)
        """)

    /// Releases the lock if it is still the caller's (KEYS: the lock; ARGV: the token): a load that
    /// failed lets the next try start at once.
    static let release = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """)
}
