extension RedisClient {
    /// Every key matching `pattern`, by SCAN (a thousand a step, never blocking the server the way
    /// KEYS does). As SCAN promises: every key present throughout is returned; one added or removed
    /// meanwhile may or may not be.
    public func keys(matching pattern: String) async throws -> [String] {
        var cursor = "0"
        var found: [String] = []
        repeat {
            let reply = try await send("SCAN", cursor, "MATCH", pattern, "COUNT", "1000").array ?? []
            guard reply.count == 2, let next = reply[0].string else { throw RedisError.protocolViolation("SCAN answered \(reply)") }
            cursor = next
            found += reply[1].array?.compactMap(\.string) ?? []
        } while cursor != "0"
        return found
    }
}
