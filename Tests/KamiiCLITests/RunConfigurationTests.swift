import Foundation
import DiscordREST
@testable import kamii
import KamiiShards
import KamiiStats
import Testing

/// What `kamii run` reads from its environment, checked without starting it.
struct RunConfigurationTests {
    /// Discord's global REST limit is the bot's and its invalid-request limit the IP's: each process
    /// of a cluster keeps to its share; a single process keeps the whole.
    @Test func aClusterSharesDiscordsRESTLimits() throws {
        let single = try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "t"]).restConfiguration()
        #expect(single.globalLimit == 50 && single.invalidRequestLimit == 8_000)
        let cluster = try RunConfiguration.load(
            path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_CLUSTER": "1/4", "KAMII_REDIS_URL": "redis://127.0.0.1:6379"]).restConfiguration()
        #expect(cluster.globalLimit == 12 && cluster.invalidRequestLimit == 2_000)
        // Past 50 processes: one request per window each, the windows wide enough to add up to 50
        // a second (64 processes at a request a second each were 64).
        let large = try RunConfiguration.load(
            path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_CLUSTER": "3/64", "KAMII_REDIS_URL": "redis://127.0.0.1:6379"]).restConfiguration()
        #expect(large.globalLimit == 1 && large.globalWindowSeconds == 1.28)
        #expect(Double(64 * large.globalLimit) / large.globalWindowSeconds == 50)
        // A bot Discord granted more: its limit, shared the same way.
        let granted = try RunConfiguration.load(
            path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_CLUSTER": "0/8", "KAMII_REDIS_URL": "redis://127.0.0.1:6379", "KAMII_REST_GLOBAL_LIMIT": "1200"])
            .restConfiguration()
        #expect(granted.globalLimit == 150 && granted.globalWindowSeconds == 1)
        #expect(refusal(["KAMII_REST_GLOBAL_LIMIT": "0"])?.contains("rest_global_limit") == true)
    }

    /// Processes given shard ranges of a fixed count keep to their range's share of the bot's global
    /// limit (four machines of 16 of 64 shards each send 12 a second, not 50); the invalid-request
    /// limit, the IP's, stays whole; with `auto` shards the share is not known, and the limit stays.
    @Test func aShardRangeKeepsToItsShareOfTheGlobalLimit() throws {
        func rest(_ environment: [String: String]) throws -> RESTClientConfiguration {
            try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_REDIS_URL": "redis://127.0.0.1:6379"].merging(environment) { $1 })
                .restConfiguration()
        }
        let quarter = try rest(["KAMII_SHARD_RANGE": "16-31", "KAMII_SHARDS": "64"])
        #expect(quarter.globalLimit == 12 && quarter.globalWindowSeconds == 1 && quarter.invalidRequestLimit == 8_000)
        let one = try rest(["KAMII_SHARD_RANGE": "5-5", "KAMII_SHARDS": "128"])
        #expect(one.globalLimit == 1 && one.globalWindowSeconds == 2.56)
        #expect(Double(128 * one.globalLimit) / one.globalWindowSeconds == 50)
        let whole = try rest(["KAMII_SHARD_RANGE": "0-63", "KAMII_SHARDS": "64"])
        #expect(whole.globalLimit == 50)
        let automatic = try rest(["KAMII_SHARD_RANGE": "0-15"])
        #expect(automatic.globalLimit == 50)
    }

    /// An api_url ending in a slash is taken without it (every route begins with one: `//gateway/bot`
    /// is not Discord's route).
    @Test func anAPIURLsTrailingSlashIsDropped() throws {
        let loaded = try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "t", "KAMII_API_URL": "https://discord.com/api/v10//"])
        #expect(loaded.apiURL == "https://discord.com/api/v10")
    }

    /// A metrics address without a port would serve nothing, without a word: refused.
    @Test func aMetricsHostWithoutAPortIsRefused() throws {
        let refused = try #require(refusal(["KAMII_METRICS_HOST": "0.0.0.0"]))
        #expect(refused.contains("metrics_port"), "\(refused)")
        #expect(refusal(["KAMII_METRICS_HOST": "0.0.0.0", "KAMII_METRICS_PORT": "0"]) == nil)
    }

    /// A setting given twice in the file is refused, naming it: the decoder kept the first, while
    /// an override appended to the file is meant to win.
    @Test func aSettingGivenTwiceIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"token": "t", "redis_url": "redis://a:6379", "stats_prefix": "x", "redis_url": "redis://b:6379"}"#.utf8).write(to: URL(fileURLWithPath: path))
        let refused = try #require(refusal([:], path: path))
        #expect(refused.contains("redis_url given more than once") && !refused.contains("stats_prefix"), "\(refused)")
        try Data(#"{"token": "t", "redis_url": "redis://b:6379"}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try RunConfiguration.load(path: path, environment: [:]).redis?.host == "b")
    }

    func refusal(_ environment: [String: String], path: String? = nil) -> String? {
        do {
            _ = try RunConfiguration.load(path: path, environment: ["KAMII_TOKEN": "t"].merging(environment) { $1 })
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// A token as a secret file or an env file stores it (a line's end) works; one with anything
    /// else in it is refused without being repeated (an HTTP client's error would print it).
    @Test func aTokenIsTrimmedAndRefusedWithoutBeingRepeated() throws {
        #expect(try RunConfiguration.load(path: nil, environment: ["KAMII_TOKEN": "MTIz.abc.def\r\n"]).token == "MTIz.abc.def")
        let refused = try #require(refusal(["KAMII_TOKEN": "MTIz.abc def"]))
        #expect(refused.contains("bot token") && !refused.contains("MTIz"))
    }

    /// Shard selections are read strictly and checked before anything starts.
    @Test func shardSelectionsAreCheckedAtOnce() throws {
        #expect(try RunConfiguration.selection(range: "0-15", cluster: nil) == .range(0..<16))
        #expect(try RunConfiguration.selection(range: nil, cluster: "1/4") == .cluster(index: 1, of: 4))
        for range in ["0-9223372036854775807", "-1-5", "3--7", "5-3", "0-70000", "1-2-3", "a-b", "+1-2"] {
            #expect(throws: RunConfiguration.Invalid.self, "\(range)") { try RunConfiguration.selection(range: range, cluster: nil) }
        }
        for cluster in ["4/4", "0/0", "-1/4", "1/", "9999999999/99999999999"] {
            #expect(throws: RunConfiguration.Invalid.self, "\(cluster)") { try RunConfiguration.selection(range: nil, cluster: cluster) }
        }
    }

    /// With a fixed count, a plan that cannot be is refused at load, before Redis, SQL or Discord
    /// is asked anything; with `auto`, the count is Discord's and is checked when it answers.
    @Test func aFixedCountsPlanIsCheckedAtLoad() throws {
        let base = ["KAMII_TOKEN": "t", "KAMII_REDIS_URL": "redis://127.0.0.1:1"]
        let refused: [([String: String], String)] = [
            (["KAMII_SHARDS": "70000"], "at most 65536"),
            (["KAMII_SHARDS": "8", "KAMII_SHARD_RANGE": "4-11"], "not within 0..<8"),
            (["KAMII_SHARDS": "2", "KAMII_CLUSTER": "2/3"], "3 clusters cannot share 2 shards"),
        ]
        for (settings, said) in refused {
            let error = try #require(throws: RunConfiguration.Invalid.self) {
                try RunConfiguration.load(path: nil, environment: base.merging(settings) { $1 })
            }
            #expect("\(error)".contains(said), "\(settings): \(error)")
        }
        #expect(try RunConfiguration.load(path: nil, environment: base.merging(["KAMII_SHARDS": "8", "KAMII_SHARD_RANGE": "4-7"]) { $1 }).selection == .range(4..<8))
        #expect(try RunConfiguration.load(path: nil, environment: base.merging(["KAMII_SHARD_RANGE": "4-11"]) { $1 }).count == .automatic)
    }

    /// The environment's shard selection replaces the file's (the environment wins, as documented).
    @Test func theEnvironmentsSelectionReplacesTheFiles() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(#"{"token": "t", "shard_range": "0-7", "redis_url": "redis://127.0.0.1:6379"}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try RunConfiguration.load(path: path, environment: [:]).selection == .range(0..<8))
        #expect(try RunConfiguration.load(path: path, environment: ["KAMII_CLUSTER": "1/2"]).selection == .cluster(index: 1, of: 2))
    }

    /// Durations past a year (or a day, in milliseconds) are refused, not left to overflow a clock.
    @Test func absurdDurationsAreRefused() {
        for (key, value) in [
            ("KAMII_GUILD_IDLE_SECONDS", "20000000000000000"), ("KAMII_IDENTIFY_WINDOW_MS", "5000000000000000000"),
            ("KAMII_CHECKPOINT_INTERVAL_SECONDS", "9223372036854775807"), ("KAMII_FLUSH_INTERVAL_MS", "100000000000"),
            ("KAMII_STATS_INTERVAL_SECONDS", "40000000"), ("KAMII_SETTINGS_POLL_SECONDS", "40000000"),
        ] {
            #expect(refusal([key: value])?.contains("at most") == true, "\(key)")
        }
        #expect(refusal(["KAMII_GUILD_IDLE_SECONDS": "86400", "KAMII_FLUSH_INTERVAL_MS": "1000"]) == nil)
    }

    /// `kamii data` finds the stores as `kamii run` does: an empty variable is unset, the
    /// environment wins over the configuration file, and a prefix the bot would refuse is refused
    /// (a deletion under it would purge nothing it wrote — or, with a glob character, another's keys).
    @Test func dataCommandsFindTheStoresAsTheBotDoes() throws {
        var file = RunConfiguration.File()
        file.redisURL = "redis://file:6379"
        file.statsPrefix = "from-file"
        file.databaseURL = "sqlite:/from/file.sqlite"
        let fromFile = StoreLocations(file: file, environment: ["KAMII_STATS_PREFIX": "", "KAMII_REDIS_URL": ""])
        #expect(fromFile.redisURL == "redis://file:6379" && fromFile.statsPrefix == "from-file" && fromFile.databaseURL == "sqlite:/from/file.sqlite")
        let fromEnvironment = StoreLocations(file: file, environment: ["KAMII_STATS_PREFIX": "prod", "KAMII_REDIS_URL": "redis://env:6379"])
        #expect(fromEnvironment.redisURL == "redis://env:6379" && fromEnvironment.statsPrefix == "prod")
        #expect(StoreLocations(file: .init(), environment: [:]).redisURL == nil)
        #expect(StoreLocations(file: file, environment: ["KAMII_DATABASE_URL": "sqlite:/env.sqlite"]).databaseURL == "sqlite:/env.sqlite")
        #expect(StoreLocations(file: file, environment: ["KAMII_DATABASE_URL": "sqlite:/env.sqlite"], database: "sqlite:/option.sqlite").databaseURL
            == "sqlite:/option.sqlite")
        #expect(StoreLocations(file: .init(), environment: [:]).databaseURL == nil, "no database made up")
        #expect(try DataCommand.statsKeys(nil).prefix == "kamii")
        #expect(try DataCommand.statsKeys("live").prefix == "live")
        for refused in ["", "a{b}", "k?mii", "k*", "k[a]mii", "k\\mii"] {
            #expect(throws: (any Error).self, "\(refused)") { try DataCommand.statsKeys(refused) }
        }
    }

    /// A misspelt setting is named with the one it is likely meant to be (else it is ignored
    /// without a word, and the bot runs on the default); other tools' `KAMII_*` variables are left
    /// alone. The log level takes any case, and refuses a name it does not know; an empty
    /// `KAMII_CONFIG` is unset.
    @Test func misspeltVariablesAreNamedAndTheLogLevelIsChecked() throws {
        let environment = [
            "KAMII_REDIS": "redis://x", "KAMII_FLUSH_INTERVAL": "250", "KAMII_SHARD": "4", "KAMII_TOKN": "t",
            "KAMII_TOKEN": "t", "KAMII_TEST_REDIS": "127.0.0.1:6390", "KAMII_PYTHON": "python3", "HOME": "/root",
        ]
        let named = RunEnvironment.misspelt(in: environment).map { "\($0.given)→\($0.meant)" }
        #expect(named == ["KAMII_FLUSH_INTERVAL→KAMII_FLUSH_INTERVAL_MS", "KAMII_REDIS→KAMII_REDIS_URL", "KAMII_SHARD→KAMII_SHARDS", "KAMII_TOKN→KAMII_TOKEN"])
        #expect(try RunEnvironment.logLevel(in: [:]) == .info)
        #expect(try RunEnvironment.logLevel(in: ["KAMII_LOG_LEVEL": "DEBUG"]) == .debug)
        #expect(try RunEnvironment.logLevel(in: ["KAMII_LOG_LEVEL": "warn"]) == .warning)
        #expect(throws: RunConfiguration.Invalid.self) { try RunEnvironment.logLevel(in: ["KAMII_LOG_LEVEL": "verbose"]) }
        #expect(RunEnvironment.configPath(option: nil, in: ["KAMII_CONFIG": ""]) == nil)
        #expect(RunEnvironment.configPath(option: "a.json", in: ["KAMII_CONFIG": "b.json"]) == "a.json")
        #expect(RunEnvironment.editDistance("", "abc") == 3 && RunEnvironment.editDistance("kitten", "sitting") == 3)
    }
}

/// Where a configuration file's syntax error is: lines and columns as an editor counts them.
struct ConfigurationSyntaxErrorTests {
    @Test func theColumnCountsCharactersAndAByteOrderMarkIsNotOne() {
        // A comma missing after "é" (two bytes in UTF-8): the error is at the next quote.
        let text = "{\n  \"token\": \"é\" \"shards\": 1\n}"
        #expect(RunConfiguration.syntaxErrorPlace(in: Data(text.utf8)) == "around line 2, column 16")
        #expect(RunConfiguration.syntaxErrorPlace(in: Data([0xEF, 0xBB, 0xBF] + Array(text.utf8))) == "around line 2, column 16")
        #expect(RunConfiguration.syntaxErrorPlace(in: Data("{\"token\": \"a\"}".utf8)) == nil)
    }
}
