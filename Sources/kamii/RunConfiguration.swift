import DiscordGateway
import DiscordModels
import DiscordREST
import Foundation
import KamiiRedis
import KamiiShards
import KamiiStats

/// What `kamii run` connects to and how, read from a JSON file and then from environment variables
/// (which win). The token belongs in the environment (`KAMII_TOKEN`); it is never printed.
struct RunConfiguration: Sendable {
    var token: String
    var apiURL: String
    var gatewayURL: String?
    var intents: GatewayIntents
    var compression: GatewayCompression
    var count: ShardPlan.Count
    var selection: ShardPlan.Selection
    var redis: RedisConfiguration?
    /// Separates bots (or test runs) sharing one Redis; default: the bot's ID from the token.
    var namespace: String?
    var sessionReserve: Int
    var identifyWindow: Duration
    var statsInterval: Duration
    var hotPath: HotPathSettings
    /// The SQL store guild settings are read from; nil: every guild runs Kamii's defaults.
    var databaseURL: String?
    /// Where Prometheus scrapes `/metrics`; nil: no metrics endpoint.
    var metrics: (host: String, port: Int)?
    /// REST requests a second the bot may send (Discord's 50, or what it granted the bot).
    var restGlobalLimit = 50

    /// How guild events become Redis counters.
    struct HotPathSettings: Sendable, Equatable {
        var flushInterval: Duration = .milliseconds(250)
        var flushThreshold = 5_000
        var bufferCapacity = 1_000_000
        var keyPrefix = "kamii"
        var guildIdle: Duration = .seconds(600)
        var checkpointInterval: Duration = .seconds(30)
        /// How often SQL is asked which guild configurations admins saved (with a database).
        var settingsPoll: Duration = .seconds(5)
        /// How long Redis's karma ledger remembers which reactions gave karma.
        var karmaMemory = StatsFlusher.Configuration.defaultKarmaMemory
    }

    /// The file's shape: every field optional; `KAMII_<FIELD>` in upper case overrides each.
    struct File: Decodable {
        var token: String?
        var apiURL: String?
        var gatewayURL: String?
        var intents: String?
        var compression: String?
        var shards: String?
        var shardRange: String?
        var cluster: String?
        var redisURL: String?
        var namespace: String?
        var sessionReserve: Int?
        var identifyWindowMs: Int?
        var statsIntervalSeconds: Int?
        var flushIntervalMs: Int?
        var flushThreshold: Int?
        var statsBuffer: Int?
        var statsPrefix: String?
        var guildIdleSeconds: Int?
        var databaseURL: String?
        var checkpointIntervalSeconds: Int?
        var settingsPollSeconds: Int?
        var metricsPort: Int?
        var metricsHost: String?
        var restGlobalLimit: Int?
        var karmaMemoryDays: Int?

        enum CodingKeys: String, CodingKey, CaseIterable {
            case token, intents, compression, shards, cluster, namespace
            case apiURL = "api_url", gatewayURL = "gateway_url", shardRange = "shard_range", redisURL = "redis_url"
            case sessionReserve = "session_reserve", identifyWindowMs = "identify_window_ms"
            case statsIntervalSeconds = "stats_interval_seconds"
            case flushIntervalMs = "flush_interval_ms", flushThreshold = "flush_threshold", statsBuffer = "stats_buffer"
            case statsPrefix = "stats_prefix", guildIdleSeconds = "guild_idle_seconds", databaseURL = "database_url"
            case checkpointIntervalSeconds = "checkpoint_interval_seconds", karmaMemoryDays = "karma_memory_days"
            case settingsPollSeconds = "settings_poll_seconds", metricsPort = "metrics_port", metricsHost = "metrics_host"
            case restGlobalLimit = "rest_global_limit"
        }

        init() {}

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue)
                .filter { CodingKeys(rawValue: $0) == nil }
            guard unknown.isEmpty else {
                throw Invalid("unknown setting\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", ")); known: "
                    + CodingKeys.allCases.map(\.rawValue).sorted().joined(separator: ", "))
            }
            token = try container.decodeIfPresent(String.self, forKey: .token)
            apiURL = try container.decodeIfPresent(String.self, forKey: .apiURL)
            gatewayURL = try container.decodeIfPresent(String.self, forKey: .gatewayURL)
            intents = try Self.text(container, .intents)
            compression = try container.decodeIfPresent(String.self, forKey: .compression)
            shards = try Self.text(container, .shards)
            shardRange = try container.decodeIfPresent(String.self, forKey: .shardRange)
            cluster = try container.decodeIfPresent(String.self, forKey: .cluster)
            redisURL = try container.decodeIfPresent(String.self, forKey: .redisURL)
            namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
            sessionReserve = try container.decodeIfPresent(Int.self, forKey: .sessionReserve)
            identifyWindowMs = try container.decodeIfPresent(Int.self, forKey: .identifyWindowMs)
            statsIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .statsIntervalSeconds)
            flushIntervalMs = try container.decodeIfPresent(Int.self, forKey: .flushIntervalMs)
            flushThreshold = try container.decodeIfPresent(Int.self, forKey: .flushThreshold)
            statsBuffer = try container.decodeIfPresent(Int.self, forKey: .statsBuffer)
            statsPrefix = try container.decodeIfPresent(String.self, forKey: .statsPrefix)
            guildIdleSeconds = try container.decodeIfPresent(Int.self, forKey: .guildIdleSeconds)
            databaseURL = try container.decodeIfPresent(String.self, forKey: .databaseURL)
            checkpointIntervalSeconds = try container.decodeIfPresent(Int.self, forKey: .checkpointIntervalSeconds)
            karmaMemoryDays = try container.decodeIfPresent(Int.self, forKey: .karmaMemoryDays)
            settingsPollSeconds = try container.decodeIfPresent(Int.self, forKey: .settingsPollSeconds)
            metricsPort = try container.decodeIfPresent(Int.self, forKey: .metricsPort)
            metricsHost = try container.decodeIfPresent(String.self, forKey: .metricsHost)
            restGlobalLimit = try container.decodeIfPresent(Int.self, forKey: .restGlobalLimit)
        }

        /// A setting given as text or as a number (`"shards": 16` or `"shards": "auto"`).
        private static func text(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> String? {
            if let number = try? container.decodeIfPresent(Int.self, forKey: key) { return String(number) }
            return try container.decodeIfPresent(String.self, forKey: key)
        }

        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init?(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
    }

    struct Invalid: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// Reads `path` (if given) and then the environment.
    static func load(path: String?, environment: [String: String]) throws -> RunConfiguration {
        let file = try readFile(path: path)
        func setting(_ key: File.CodingKeys, _ fromFile: String?) -> String? {
            Self.setting(key, fromFile, in: environment)
        }
        func number(_ key: File.CodingKeys, _ fromFile: Int?) throws -> Int? {
            guard let text = Self.variable("KAMII_" + key.rawValue.uppercased(), in: environment) else { return fromFile }
            guard let value = Int(text) else { throw Invalid("KAMII_\(key.rawValue.uppercased()) must be a whole number, not \(text)") }
            return value
        }

        // A secret file or an env file often ends its line: the newline is not part of the token.
        guard let token = setting(.token, file.token)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
            throw Invalid("no bot token: set KAMII_TOKEN (or \"token\" in the configuration file)")
        }
        // Said without the token: it would otherwise end up in an HTTP client's error (and a log).
        guard token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw Invalid("the bot token holds a space, a control character or a non-ASCII character; check how it was stored")
        }
        let (apiURL, api) = try Self.checkedAPIURL(setting(.apiURL, file.apiURL) ?? "https://discord.com/api/v10")
        let gatewayURL = setting(.gatewayURL, file.gatewayURL)
        let gateway = try Self.checkedGatewayURL(gatewayURL)
        var intents = GatewayIntents.kamiiDefault
        if let text = setting(.intents, file.intents) {
            guard let parsed = GatewayIntents(parsing: text), GatewayIntents.all.isSuperset(of: parsed) else {
                throw Invalid("intents: \(text) is neither Discord intent names (e.g. guilds,guild_messages) nor valid intent bits")
            }
            // No events at all: the shards would connect and receive nothing.
            guard !parsed.isEmpty else { throw Invalid("intents: \(text) asks for no events; name at least one (e.g. guilds,guild_messages)") }
            intents = parsed
        }
        var compression = GatewayCompression.zstdStream
        if let text = setting(.compression, file.compression) {
            guard let parsed = GatewayCompression(rawValue: text) else {
                throw Invalid("compression is zstd-stream, zlib-stream or none, not \(text)")
            }
            compression = parsed
        }
        let count = try Self.count(setting(.shards, file.shards))
        // The environment's shard selection replaces the file's whole: a range in the file and a
        // cluster in the environment is the environment's cluster.
        let fromEnvironment = (range: setting(.shardRange, nil), cluster: setting(.cluster, nil))
        let selection = fromEnvironment.range != nil || fromEnvironment.cluster != nil
            ? try Self.selection(range: fromEnvironment.range, cluster: fromEnvironment.cluster)
            : try Self.selection(range: file.shardRange, cluster: file.cluster)
        if case .fixed = count {
            // A fixed count's plan needs nothing from Discord but the identify concurrency, which
            // moves no limit: planned now, a count or share that cannot be is said before anything starts.
            do { _ = try ShardPlan(count: count, selection: selection, recommended: 1, maxConcurrency: 1) } catch { throw Invalid("shards: \(error)") }
        }
        var redis: RedisConfiguration?
        if let url = setting(.redisURL, file.redisURL) {
            do { redis = try RedisConfiguration(url: url) } catch { throw Invalid("redis_url: \(error)") }
        }
        // Processes sharing a bot's shards agree through Redis — whose turn to identify, what is left
        // of the session budget, the shard count; each on its own would break Discord's limits.
        if selection != .all, redis == nil {
            throw Invalid("shard_range and cluster share a bot's shards among processes, which agree through Redis: set redis_url")
        }
        let reserve = try number(.sessionReserve, file.sessionReserve) ?? 10
        let window = try number(.identifyWindowMs, file.identifyWindowMs) ?? 5_000
        let stats = try number(.statsIntervalSeconds, file.statsIntervalSeconds) ?? 10
        guard reserve >= 0 else { throw Invalid("session_reserve cannot be negative") }
        guard window > 0, stats > 0 else { throw Invalid("identify_window_ms and stats_interval_seconds must be positive") }
        guard window <= Self.longestMilliseconds, stats <= Self.longestSeconds else {
            throw Invalid("identify_window_ms must be at most \(Self.longestMilliseconds) (a day) and stats_interval_seconds at most \(Self.longestSeconds) (a year)")
        }
        // Discord by either door: its API (directly, or the older name), or its gateway given
        // directly (a REST proxy in front of the API says nothing of where the shards connect: the
        // shard manager checks the URL /gateway/bot gives).
        if window < 5_000, [api.host, gateway?.host].contains(where: DiscordHosts.contains) {
            throw Invalid("identify_window_ms below 5000 breaks Discord's identify rule (shorten it only against a simulator)")
        }
        let namespace = setting(.namespace, file.namespace)
        // The Redis hash tag of the shards' keys: `{<namespace>}` must stay one tag.
        if let namespace, namespace.isEmpty || namespace.contains(where: { "{} ".contains($0) }) || namespace.utf8.count > 128 {
            throw Invalid("namespace must be 1–128 bytes without braces or spaces (it becomes a Redis hash tag), not \"\(namespace)\"")
        }
        var hotPath = HotPathSettings()
        let flushInterval = try number(.flushIntervalMs, file.flushIntervalMs) ?? 250
        hotPath.flushThreshold = try number(.flushThreshold, file.flushThreshold) ?? hotPath.flushThreshold
        hotPath.bufferCapacity = try number(.statsBuffer, file.statsBuffer) ?? hotPath.bufferCapacity
        let idle = try number(.guildIdleSeconds, file.guildIdleSeconds) ?? 600
        let checkpoint = try number(.checkpointIntervalSeconds, file.checkpointIntervalSeconds) ?? 30
        let settingsPoll = try number(.settingsPollSeconds, file.settingsPollSeconds) ?? 5
        guard flushInterval > 0, hotPath.flushThreshold > 0, idle > 0, checkpoint > 0, settingsPoll > 0 else {
            throw Invalid(
                "flush_interval_ms, flush_threshold, guild_idle_seconds, checkpoint_interval_seconds and settings_poll_seconds must be positive")
        }
        guard flushInterval <= Self.longestMilliseconds, [idle, checkpoint, settingsPoll].allSatisfy({ $0 <= Self.longestSeconds }) else {
            throw Invalid(
                "flush_interval_ms must be at most \(Self.longestMilliseconds) (a day); guild_idle_seconds, checkpoint_interval_seconds and settings_poll_seconds at most \(Self.longestSeconds) (a year)")
        }
        hotPath.checkpointInterval = .seconds(checkpoint)
        hotPath.settingsPoll = .seconds(settingsPoll)
        if let days = try number(.karmaMemoryDays, file.karmaMemoryDays) {
            guard (1...3_650).contains(days) else { throw Invalid("karma_memory_days must be between 1 and 3650, not \(days)") }
            hotPath.karmaMemory = .seconds(days * 86_400)
        }
        guard hotPath.bufferCapacity >= hotPath.flushThreshold else { throw Invalid("stats_buffer must be at least flush_threshold") }
        hotPath.flushInterval = .milliseconds(flushInterval)
        hotPath.guildIdle = .seconds(idle)
        if let prefix = setting(.statsPrefix, file.statsPrefix) {
            guard Self.isValidStatsPrefix(prefix) else {
                throw Invalid("stats_prefix must be \(Self.statsPrefixRule), not \(prefix)")
            }
            hotPath.keyPrefix = prefix
        }
        var metrics: (host: String, port: Int)?
        if let port = try number(.metricsPort, file.metricsPort) {
            guard (0...65_535).contains(port) else { throw Invalid("metrics_port must be between 0 (any free port, logged) and 65535, not \(port)") }
            metrics = (setting(.metricsHost, file.metricsHost) ?? "127.0.0.1", port)
        } else if setting(.metricsHost, file.metricsHost) != nil {
            // An address to serve on and no port: the operator wants an endpoint this would not open.
            throw Invalid("metrics_host is set but metrics_port is not: set metrics_port too (0 for any free port) to serve /metrics")
        }
        let restGlobalLimit = try number(.restGlobalLimit, file.restGlobalLimit) ?? 50
        guard (1...1_000_000).contains(restGlobalLimit) else {
            throw Invalid("rest_global_limit must be between 1 and 1000000 requests a second (Discord's is 50 unless it granted the bot more), not \(restGlobalLimit)")
        }
        return RunConfiguration(
            token: token, apiURL: apiURL, gatewayURL: gatewayURL, intents: intents, compression: compression, count: count,
            selection: selection, redis: redis, namespace: namespace, sessionReserve: reserve, identifyWindow: .milliseconds(window),
            statsInterval: .seconds(stats), hotPath: hotPath, databaseURL: setting(.databaseURL, file.databaseURL), metrics: metrics,
            restGlobalLimit: restGlobalLimit)
    }

    static func count(_ text: String?) throws -> ShardPlan.Count {
        guard let text, text != "auto" else { return .automatic }
        guard let fixed = Int(text), fixed > 0 else { throw Invalid("shards is \"auto\" or a positive number, not \(text)") }
        return .fixed(fixed)
    }

    /// A setting as Kamii reads one: its `KAMII_*` variable, else the configuration file's value.
    static func setting(_ key: File.CodingKeys, _ fromFile: String?, in environment: [String: String]) -> String? {
        variable("KAMII_" + key.rawValue.uppercased(), in: environment) ?? fromFile
    }

    /// An environment variable as Kamii reads one: empty is unset.
    static func variable(_ name: String, in environment: [String: String]) -> String? {
        environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A stats key prefix Kamii writes under: non-empty, no braces (hash tags), spaces, or the
    /// characters of Redis's glob patterns (a purge or a clean-up finds keys by `SCAN MATCH`
    /// under the prefix: `k?mii` would match another deployment's keys, `k[a]mii` none of its own).
    static func isValidStatsPrefix(_ prefix: String) -> Bool {
        !prefix.isEmpty && !prefix.contains(where: { "{} \n*?[]\\".contains($0) })
    }

    /// Why ``isValidStatsPrefix(_:)`` refused a prefix.
    static let statsPrefixRule = "non-empty, without braces, spaces or any of * ? [ ] \\"

    /// The longest a duration setting may be: longer ones are mistakes, and would overflow the
    /// clocks they are added to.
    static let longestSeconds = 31_536_000
    static let longestMilliseconds = 86_400_000

    /// `shard_range` "first-last" (inclusive) or `cluster` "index/count"; not both.
    static func selection(range: String?, cluster: String?) throws -> ShardPlan.Selection {
        /// Two whole numbers around `separator`, digits only (no sign, nothing else).
        func pair(_ text: String, _ separator: Character) -> (Int, Int)? {
            let parts = text.split(separator: separator, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 9 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
                  let first = Int(parts[0]), let second = Int(parts[1])
            else { return nil }
            return (first, second)
        }
        switch (range, cluster) {
        case (.some, .some):
            throw Invalid("give shard_range or cluster, not both")
        case (let range?, nil):
            guard let (first, last) = pair(range, "-"), last >= first, last < ShardPlan.shardCountLimit else {
                throw Invalid("shard_range is \"first-last\", such as 0-15, with last at least first and below \(ShardPlan.shardCountLimit), not \(range)")
            }
            return .range(first..<(last + 1))
        case (nil, let cluster?):
            guard let (index, count) = pair(cluster, "/"), count >= 1, index < count, count <= ShardPlan.shardCountLimit else {
                throw Invalid("cluster is \"index/count\", such as 0/4, with index below count, not \(cluster)")
            }
            return .cluster(index: index, of: count)
        case (nil, nil):
            return .all
        }
    }

    /// The REST client's limits for this process. Discord's global limit (50 requests a second) is
    /// the bot's and its invalid-request limit the IP's: with `cluster` "i/n" each of the n
    /// processes keeps to its share of both. With `shard_range` and a fixed shard count the
    /// process keeps to its range's share of the global limit (its part of the bot's shards, and so
    /// of its guilds); the invalid-request limit stays whole (right for one process per machine and
    /// IP), as does the global one when the count is `auto` (the range's share is not known then).
    func restConfiguration() -> RESTClientConfiguration {
        var rest = RESTClientConfiguration(apiBaseURL: apiURL, token: token, globalLimit: restGlobalLimit)
        switch (selection, count) {
        case (.cluster(_, let processes), _) where processes > 1:
            Self.keep(toShare: 1 / Double(processes), of: &rest)
            rest.invalidRequestLimit = max(1, rest.invalidRequestLimit / processes)
        case (.range(let shards), .fixed(let total)) where shards.count < total:
            Self.keep(toShare: Double(shards.count) / Double(total), of: &rest)
        default:
            break
        }
        return rest
    }

    /// Keeps `rest` to `share` of its global limit: that many requests a window, rounded down; below
    /// one, one request per window widened so the processes' sum stays within the bot's limit.
    private static func keep(toShare share: Double, of rest: inout RESTClientConfiguration) {
        let requests = Double(rest.globalLimit) * share
        if requests >= 1 {
            // A hair above the exact quotient first: 50 × 1/4 is 12.5, 150 × 1/8 may be 18.7499….
            rest.globalLimit = Int((requests + 1e-9).rounded(.down))
        } else {
            rest.globalWindowSeconds /= requests
            rest.globalLimit = 1
        }
    }

    func managerConfiguration() -> ShardManagerConfiguration {
        ShardManagerConfiguration(
            token: token, intents: intents, gatewayURL: gatewayURL, compression: compression, count: count, selection: selection,
            identifyWindow: identifyWindow, sessionReserve: sessionReserve, namespace: namespace)
    }
}
