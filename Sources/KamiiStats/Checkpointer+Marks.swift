import KamiiRedis

/// Taking a set of marks for a checkpoint: what it copies, and what stays if it fails.
extension Checkpointer {
    /// Moves `set` into `set:checkpointing` (adding to what a failed checkpoint left there) and
    /// returns everything in it that is an ID (decimal digits); anything else — not Kamii's, never
    /// copyable — is removed there, so that it cannot keep the set from ever emptying.
    func take(_ set: String) async throws -> [String] {
        let reply = try await redis.evaluate(Self.takeScript, keys: [set, set + ":checkpointing"], arguments: [])
        return (reply.array ?? []).compactMap(\.string)
    }

    private static let takeScript = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
            redis.call('DEL', KEYS[1])
        end
        local ids = {}
        for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            if string.match(member, '^%d+$') then ids[#ids + 1] = member else redis.call('SREM', KEYS[2], member) end
        end
        return ids
        """)
}
