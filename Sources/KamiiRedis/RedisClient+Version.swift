extension RedisClient {
    /// The server's version (`redis_version` of `INFO server`; Valkey reports the Redis version it
    /// is compatible with there too), as major and minor numbers; nil when the reply does not say.
    public func serverVersion() async throws -> (major: Int, minor: Int)? {
        let info = try await send("INFO", "server").orThrow().string ?? ""
        return Self.version(fromInfo: info)
    }

    /// `redis_version:7.0.15` in an `INFO` reply → (7, 0).
    static func version(fromInfo info: String) -> (major: Int, minor: Int)? {
        for line in info.split(whereSeparator: \.isNewline) where line.hasPrefix("redis_version:") {
            let parts = line.dropFirst("redis_version:".count).split(separator: ".")
            guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return nil }
            return (major, minor)
        }
        return nil
    }
}
