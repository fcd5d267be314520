import KamiiRedis

extension ShardLeaseKeeper {
    /// KEYS[1] the shard count the leases are held for, KEYS[2…] the leases; ARGV[1] the holder,
    /// ARGV[2] the lifetime in ms, ARGV[3] this process's shard count. Per lease: 1 if held by
    /// ARGV[1] now (renewed, or taken when free and no other count is held), else who holds it
    /// (`count <n>` for a lease kept free by another count). The count is renewed with the leases.
    static let takeScript = RedisScript("""
        local count = redis.call('GET', KEYS[1])
        local otherCount = count and count ~= ARGV[3]
        local answers, holding = {}, false
        for i = 2, #KEYS do
          local holder = redis.call('GET', KEYS[i])
          if holder == ARGV[1] then
            redis.call('PEXPIRE', KEYS[i], ARGV[2])
            answers[i - 1], holding = 1, true
          elseif holder then
            answers[i - 1] = holder
          elseif otherCount then
            answers[i - 1] = 'count ' .. count
          else
            redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
            answers[i - 1], holding = 1, true
          end
        end
        if holding and not otherCount then redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2]) end
        return answers
        """)

    /// KEYS and ARGV[1…3] as ``takeScript``, ARGV[3 + i] the gone holder of KEYS[1 + i]: taken
    /// only if that one still holds it (or no one does), and no other count is held. Per lease 1 or 0.
    static let takeOverScript = RedisScript("""
        local count = redis.call('GET', KEYS[1])
        if count and count ~= ARGV[3] then return {} end
        local answers = {}
        for i = 2, #KEYS do
          local holder = redis.call('GET', KEYS[i])
          if not holder or holder == ARGV[2 + i] or holder == ARGV[1] then
            redis.call('SET', KEYS[i], ARGV[1], 'PX', ARGV[2])
            answers[i - 1] = 1
          else
            answers[i - 1] = 0
          end
        end
        for _, answer in ipairs(answers) do
          if answer == 1 then
            redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
            break
          end
        end
        return answers
        """)

    /// KEYS[1] the shard count leases are held for; ARGV[1] the lease keys' prefix, ARGV[2] this
    /// process's count: deleted if it is this count and no lease of it is held any more. (The
    /// leases are built from the prefix, all in the count key's hash slot.)
    static let releaseCountScript = RedisScript("""
        if redis.call('GET', KEYS[1]) ~= ARGV[2] then return 0 end
        for shard = 0, tonumber(ARGV[2]) - 1 do
          if redis.call('EXISTS', ARGV[1] .. shard) == 1 then return 0 end
        end
        redis.call('DEL', KEYS[1])
        return 1
        """)

    /// KEYS the leases; ARGV[1] the holder: each deleted only if still its.
    static let releaseScript = RedisScript("""
        for _, key in ipairs(KEYS) do
          if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
        end
        return 0
        """)
}
