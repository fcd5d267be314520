import Logging

/// What `kamii run` reads from its environment beyond the settings (``RunConfiguration``): the
/// configuration file's path, the log level — and what it does not read though it looks meant for
/// it: a misspelt setting is otherwise ignored without a word, and the bot runs on the default.
enum RunEnvironment {
    /// Every variable `kamii run` reads.
    static let names: Set<String> = Set(RunConfiguration.File.CodingKeys.allCases.map { "KAMII_" + $0.rawValue.uppercased() })
        .union(["KAMII_CONFIG", "KAMII_LOG_LEVEL"])

    /// The configuration file's path: `--config`, else `KAMII_CONFIG` (empty is unset, as for every
    /// other variable).
    static func configPath(option: String?, in environment: [String: String]) -> String? {
        option ?? RunConfiguration.variable("KAMII_CONFIG", in: environment)
    }

    /// `KAMII_LOG_LEVEL` (any case; `warn` for warning), `info` when unset.
    static func logLevel(in environment: [String: String]) throws(RunConfiguration.Invalid) -> Logger.Level {
        guard let text = RunConfiguration.variable("KAMII_LOG_LEVEL", in: environment) else { return .info }
        let name = text.lowercased() == "warn" ? "warning" : text.lowercased()
        guard let level = Logger.Level(rawValue: name) else {
            let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
            throw RunConfiguration.Invalid("KAMII_LOG_LEVEL must be one of \(levels), not \(text)")
        }
        return level
    }

    /// `KAMII_*` variables that are not read, each with the setting it is most likely meant to be:
    /// one a letter or two away, or one it begins (`KAMII_REDIS` for `KAMII_REDIS_URL`). Variables
    /// like no setting (other tools' `KAMII_*`) are left alone.
    static func misspelt(in environment: [String: String]) -> [(given: String, meant: String)] {
        environment.keys.filter { $0.hasPrefix("KAMII_") && !names.contains($0) }.sorted().compactMap { given in
            let close = names.map { (name: $0, distance: editDistance(given, $0)) }
                .filter { $0.distance <= 2 || ($0.name.hasPrefix(given + "_") && given.count > "KAMII_".count + 2) }
                .min { ($0.distance, $0.name) < ($1.distance, $1.name) }
            return close.map { (given, $0.name) }
        }
    }

    /// Levenshtein distance over bytes (the names are ASCII).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let (a, b) = (Array(a.utf8), Array(b.utf8))
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
