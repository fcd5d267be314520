import DiscordREST
import KamiiRedis

extension ShardManager {
    /// A share of the bot's shards (a range, a cluster) with `shards: auto`: every process must
    /// shard by the same count, or guilds would go to two sessions (counted twice) or to none. The
    /// first process's count is kept in Redis for all (`kamii:gateway:{namespace}:shard-count`,
    /// without expiry); a later one runs by it whatever Discord recommends by then. To reshard,
    /// stop them all and delete the key, or set `shards`.
    func agreedPlan(_ plan: ShardPlan, redis: RedisClient, namespace: String, gateway: GatewayBot) async throws -> ShardPlan {
        let key = "kamii:gateway:{\(namespace)}:shard-count"
        // Redis away at start is waited for (no shard can start before the count is agreed), not a
        // reason to stop: a single process waits for it too, in its flusher.
        var (reply, waits) = (RedisValue.null, 0)
        while true {
            do {
                reply = try await redis.evaluate(Self.agreeScript, keys: [key], arguments: [String(plan.shardCount)])
                break
            } catch let error as RedisError where error.isTransient {
                waits += 1
                if waits == 1 || waits.isMultiple(of: 10) {
                    logger.warning("shard count: Redis not reachable to agree on it with the bot's other processes; waiting", metadata: ["error": "\(error)"])
                }
                try await Task.sleep(for: .seconds(min(30, 1 << min(waits - 1, 5))))
            }
        }
        guard let agreed = reply.string.flatMap(Int.init), agreed != plan.shardCount else { return plan }
        logger.notice("shard count: the one the bot's other processes run by, not Discord's recommendation (delete the key to reshard)", metadata: [
            "agreed": "\(agreed)", "recommended": "\(plan.shardCount)", "key": "\(key)",
        ])
        return try ShardPlan(
            count: .fixed(agreed), selection: configuration.selection, recommended: gateway.shards,
            maxConcurrency: gateway.sessionStartLimit.maxConcurrency)
    }

    /// KEYS[1] the agreed count; ARGV[1] this process's: returns the count kept (setting it when none is).
    static let agreeScript = RedisScript("""
        local kept = redis.call('GET', KEYS[1])
        if kept then return kept end
        redis.call('SET', KEYS[1], ARGV[1])
        return ARGV[1]
        """)
}
