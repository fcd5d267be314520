extension RedisClient {
    /// What in the server's configuration puts Kamii's data at risk, one sentence each; empty when
    /// nothing does, or when the server does not let its configuration be read (managed services
    /// often refuse `CONFIG GET`).
    public func durabilityWarnings() async throws -> [String] {
        var settings: [String: String] = [:]
        for name in ["appendonly", "maxmemory", "maxmemory-policy"] {
            guard case .array(let pair) = try await send("CONFIG", "GET", name), pair.count == 2, let value = pair[1].string else { continue }
            settings[name] = value
        }
        return Self.durabilityWarnings(settings)
    }

    /// The warnings for these `CONFIG GET` answers.
    static func durabilityWarnings(_ settings: [String: String]) -> [String] {
        var warnings: [String] = []
        if settings["appendonly"] == "no" {
            warnings.append(
                "appendonly is off: a Redis restart loses what was written since its last snapshot, and only a guild lost whole is reloaded from SQL"
                    + " (set appendonly yes)")
        }
        if let limit = settings["maxmemory"], limit != "0", let policy = settings["maxmemory-policy"], policy != "noeviction" {
            warnings.append(
                "maxmemory-policy is \(policy): Redis may evict Kamii's keys (members' XP, waiting level-ups, privacy deletion records)"
                    + " (set maxmemory-policy noeviction)")
        }
        return warnings
    }
}
