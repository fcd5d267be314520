import KamiiRedis

/// One checkpointer at a time on a Redis (`<prefix>:{dirty-guilds}:checkpoint-lock`, holding the
/// holder's token). Several processes share one Redis and its marks: two checkpointers at once
/// would each release marks the other merged in after reading the record (that change then waits
/// for the member's next one), and one that read a record before the other could write it to SQL
/// after. A checkpoint that finds the lock taken leaves the marks to the holder, which copies them
/// all; at shutdown a process waits for its turn instead, so that what its last flush marked is
/// copied before it stops. The lock runs out if its holder dies; a long checkpoint renews it.
struct CheckpointLock {
    /// How long the lock lasts past its holder's latest renewal (ms).
    static let lifetimeMilliseconds = "60000"
    /// How often a checkpoint in progress renews it.
    static let renewal: Duration = .seconds(10)

    let key: String
    let token = String(UInt64.random(in: 1...UInt64.max))
    private var renewedAt = ContinuousClock.now

    init(keys: StatsKeys) {
        key = keys.dirtyGuilds + ":checkpoint-lock"
    }

    /// Takes the lock if no one holds it.
    mutating func acquire(_ redis: RedisClient) async throws -> Bool {
        let reply = try await redis.send("SET", key, token, "NX", "PX", Self.lifetimeMilliseconds).orThrow()
        renewedAt = .now
        return !reply.isNull
    }

    /// Renews the lock when it was last renewed ``renewal`` ago or more (if it is still this one's).
    mutating func renewIfDue(_ redis: RedisClient) async throws {
        guard ContinuousClock.now - renewedAt >= Self.renewal else { return }
        renewedAt = .now
        _ = try await redis.evaluate(Self.renew, keys: [key], arguments: [token, Self.lifetimeMilliseconds]).orThrow()
    }

    /// Releases the lock if it is still this one's.
    func release(_ redis: RedisClient) async throws {
        _ = try await redis.evaluate(Self.release, keys: [key], arguments: [token]).orThrow()
    }

    private static let renew = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """)

    private static let release = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """)
}
