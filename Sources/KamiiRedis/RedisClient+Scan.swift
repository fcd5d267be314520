extension RedisClient {
    /// Every key matching `pattern`, by SCAN (a thousand a step, never blocking the server the way
    /// KEYS does), each once (SCAN may return a key twice while the server rehashes). As SCAN
    /// promises: every key present throughout is returned; one added or removed meanwhile may or may not be.
    public func keys(matching pattern: String) async throws -> [String] {
        var seen = Set<String>()
        return try await everyPage { cursor in ["SCAN", cursor, "MATCH", pattern, "COUNT", "1000"] }.compactMap(\.string)
            .filter { seen.insert($0).inserted }
    }

    /// Every member of the set at `key`, by SSCAN (a thousand a step), with SCAN's promise: a member
    /// present throughout is returned (possibly twice); one added or removed meanwhile may or may not be.
    public func members(ofSet key: String) async throws -> [String] {
        try await everyPage { cursor in ["SSCAN", key, cursor, "COUNT", "1000"] }.compactMap(\.string)
    }

    /// Every field of the hash at `key` with its value's bytes, by HSCAN (a thousand a step: a hash
    /// of millions never blocks the server the way HGETALL does), each field once, with SCAN's
    /// promise: a field present throughout is returned; one added or removed meanwhile may or may not be.
    public func fields(ofHash key: String) async throws -> [(field: String, value: [UInt8])] {
        let flat = try await everyPage { cursor in ["HSCAN", key, cursor, "COUNT", "1000"] }
        var seen = Set<String>()
        var fields: [(field: String, value: [UInt8])] = []
        for index in stride(from: 0, to: flat.count - 1, by: 2) {
            guard let field = flat[index].string, let value = flat[index + 1].bytes, seen.insert(field).inserted else { continue }
            fields.append((field, value))
        }
        return fields
    }

    /// Follows a SCAN-family cursor from 0 until the server says 0 again, gathering its pages.
    private func everyPage(_ command: (String) -> [String]) async throws -> [RedisValue] {
        var cursor = "0"
        var found: [RedisValue] = []
        repeat {
            var pipeline = RedisPipeline()
            pipeline.append(command(cursor))
            let reply = try await execute(pipeline)[0].orThrow().array ?? []
            guard reply.count == 2, let next = reply[0].string else { throw RedisError.protocolViolation("\(command(cursor)[0]) answered \(reply)") }
            cursor = next
            found += reply[1].array ?? []
        } while cursor != "0"
        return found
    }
}
