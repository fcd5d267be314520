extension RedisClient {
    /// Sends `pipeline` — MULTI, the commands, EXEC — and throws the first error: a command refused
    /// as it was queued, or one that failed inside the transaction. The latter is an error among
    /// EXEC's replies, not EXEC's own reply, and EXEC runs the other commands all the same: the
    /// transaction did not happen whole, which its caller must hear.
    public func executeTransaction(_ pipeline: RedisPipeline) async throws {
        let replies = try await execute(pipeline)
        for reply in replies { _ = try reply.orThrow() }
        for reply in replies.last?.array ?? [] { _ = try reply.orThrow() }
    }
}
