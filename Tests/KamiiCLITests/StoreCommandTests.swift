import Foundation
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii migrate` and `kamii data …` against a real SQLite file, as an operator runs them.
@Suite struct StoreCommandTests {
    final class Database {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-cli-\(UUID().uuidString).sqlite").path
        var url: String { "sqlite:\(path)" }
        deinit { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
    }

    @Test func migrateCreatesTheSchemaOnceAndDataCommandsNeedIt() async throws {
        let database = Database()
        // No file there (a relative path from another directory than the bot's, say): refused, not
        // made — a deletion in an empty database would report success.
        let missing = try await Kamii.run(["data", "delete", "--user", "5", "--yes", "--sql-only", "--database", database.url])
        #expect(missing.status != 0 && missing.stderr.contains("no SQLite database at \(database.path)"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: database.path), "no database file made")
        // A file with no schema yet.
        #expect(FileManager.default.createFile(atPath: database.path, contents: nil))
        let early = try await Kamii.run(["data", "export", "--user", "5", "--database", database.url])
        #expect(early.status != 0)
        #expect(early.stderr.contains("run `kamii migrate`"), "\(early.stderr)")

        let first = try await Kamii.run(["migrate", "--database", database.url])
        #expect(first.status == 0, "\(first.stderr)")
        let latest = KamiiStore.latestSchemaVersion
        let versions = (1...latest).map(String.init).joined(separator: ", ")
        #expect(first.stdout == "applied schema versions \(versions); now at version \(latest)\n")
        let second = try await Kamii.run(["migrate", "--database", database.url])
        #expect(second.stdout == "schema up to date at version \(latest)\n")
    }

    /// With no database named anywhere (option, variable, configuration file), the data commands
    /// stop with an error: an SQLite file made up in the current directory would be created empty,
    /// and a deletion there would report success with the bot's own database untouched.
    @Test func dataCommandsWithNoDatabaseNamedStopWithoutMakingOneUp() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        for arguments in [["data", "delete", "--user", "5", "--yes", "--sql-only"], ["data", "export", "--user", "5"], ["migrate"]] {
            let result = try await Kamii.run(arguments, environment: environment, in: directory)
            #expect(result.status != 0 && result.stderr.contains("no database given"), "\(arguments): \(result.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty, "no database file made")
    }

    /// A misspelt location (`KAMII_STATS_PREFIXX`) would leave the default in its place: a
    /// deletion would purge the default prefix and report success. Refused, naming the setting meant.
    @Test func aMisspeltLocationStopsTheDataCommands() async throws {
        let database = Database()
        _ = try await Kamii.run(["migrate", "--database", database.url])
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_STATS_PREFIXX"] = "bot2"
        for arguments in [["data", "delete", "--user", "5", "--yes", "--sql-only"], ["data", "export", "--user", "5"]] {
            let result = try await Kamii.run(arguments + ["--database", database.url], environment: environment)
            #expect(result.status != 0 && result.stderr.contains("KAMII_STATS_PREFIXX is not a setting (did you mean KAMII_STATS_PREFIX?)"), "\(arguments): \(result.stderr)")
        }
        // A misspelling of a setting these commands do not read is no reason to stop.
        environment = environment.filter { $0.key != "KAMII_STATS_PREFIXX" }
        environment["KAMII_TOKN"] = "x"
        let export = try await Kamii.run(["data", "export", "--user", "5", "--database", database.url], environment: environment)
        #expect(export.status == 0, "\(export.stderr)")
    }

    @Test func exportPrintsOneJSONDocumentAndDeleteNeedsConfirmation() async throws {
        let database = Database()
        _ = try await Kamii.run(["migrate", "--database", database.url])
        let export = try await Kamii.run(["data", "export", "--guild", "754679440999308764", "--database", database.url])
        #expect(export.status == 0, "\(export.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        #expect(document["guild"] as? String == "754679440999308764")
        #expect(document["cases"] as? [Any] != nil)
        // Times as the store keeps them, to the millisecond (not cut to whole seconds).
        #expect(export.stdout.contains(/"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"/), "\(export.stdout.prefix(400))")
        #expect(export.stderr.contains("warning: no Redis given"), "what is missing from it is said")

        let unconfirmed = try await Kamii.run(["data", "delete", "--user", "5", "--database", database.url])
        #expect(unconfirmed.status != 0)
        #expect(unconfirmed.stderr.contains("--yes"))
        // The live stats are in Redis: a deletion that would leave them there is refused, unless
        // the operator says the bot has no Redis.
        let withoutRedis = try await Kamii.run(["data", "delete", "--user", "5", "--yes", "--database", database.url])
        #expect(withoutRedis.status != 0 && withoutRedis.stderr.contains("no Redis given"), "\(withoutRedis.stderr)")
        let confirmed = try await Kamii.run(["data", "delete", "--user", "5", "--yes", "--sql-only", "--database", database.url])
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        #expect(confirmed.stdout.hasPrefix("deleted: server_users=0"))
    }

    /// With a Redis, a user's export also holds what only Redis keeps: the karma ledger's reactions
    /// they gave or that gave them karma, and the karma pair cooldowns they are in.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func anExportWithRedisHoldsTheKarmaLedger() async throws {
        let database = Database()
        _ = try await Kamii.run(["migrate", "--database", database.url])
        let redis = try RedisTestServer.client()
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        try await redis.send("HSET", "\(prefix):{4194304}:karma:2900", "1234567:77:9", "88", "1234568:66:9", "55")
        try await redis.send("SET", "\(prefix):{4194304}:karma-pair:88:77", "1764000000000", "EX", "60")
        try await redis.send("SET", "\(prefix):{4194304}:karma-pair:66:55", "1764000000001", "EX", "60")
        // The ledger's index: a karma key that is neither a ledger nor a cooldown, passed over.
        try await redis.send("ZADD", "\(prefix):{4194304}:karma-index:2900", "0", "1234567:77:9", "0", "1234568:66:9")
        // Live stats: 77's record in two guilds, and another member's.
        try await redis.send("HSET", "\(prefix):{4194304}:members", "77", "150:2:10:5::3:::::", "66", "9:0:1:1::0:::::")
        try await redis.send("HSET", "\(prefix):{8388608}:members", "77", "20:0:2:1::0:::::")
        let server = try #require(RedisTestServer.configuration)
        let export = try await Kamii.run([
            "data", "export", "--user", "77", "--database", database.url, "--redis", "redis://\(server.host):\(server.port)",
            "--stats-prefix", prefix,
        ])
        #expect(export.status == 0, "\(export.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(export.stdout.utf8)) as? [String: Any])
        let ledger = try #require(document["karma_ledger"] as? [[String: String]])
        #expect(ledger == [["guild": "4194304", "message": "1234567", "giver": "77", "emoji_key": "9", "receiver": "88"]])
        let cooldowns = try #require(document["karma_cooldowns"] as? [[String: Any]])
        #expect(cooldowns.count == 1 && cooldowns.first?["giver"] as? String == "88" && cooldowns.first?["receiver"] as? String == "77")
        #expect((cooldowns.first?["given_at_ms"] as? NSNumber)?.uint64Value == 1_764_000_000_000)
        // The live stats Redis holds, newer than SQL's: the user's in each guild, nobody else's.
        let live = try #require(document["stats_in_redis"] as? [[String: Any]])
        #expect(live.map { $0["guild"] as? String } == ["4194304", "8388608"] && live.allSatisfy { $0["user"] as? String == "77" }, "\(live)")
        #expect(live.first?["xp"] as? Int == 150 && live.first?["level"] as? Int == 2 && live.first?["karma"] as? Int == 3)
        let guildExport = try await Kamii.run([
            "data", "export", "--guild", "4194304", "--database", database.url, "--redis", "redis://\(server.host):\(server.port)",
            "--stats-prefix", prefix,
        ])
        let guildDocument = try #require(try JSONSerialization.jsonObject(with: Data(guildExport.stdout.utf8)) as? [String: Any])
        let members = try #require(guildDocument["stats_in_redis"] as? [[String: Any]])
        #expect(members.compactMap { $0["user"] as? String } == ["66", "77"], "the guild's every member, by user")
        let guildLedger = try #require(guildDocument["karma_ledger"] as? [[String: String]])
        #expect(guildLedger.compactMap { $0["giver"] }.sorted() == ["66", "77"], "the guild's whole ledger")
        let guildCooldowns = try #require(guildDocument["karma_cooldowns"] as? [[String: Any]])
        #expect(guildCooldowns.compactMap { $0["giver"] as? String }.sorted() == ["66", "88"], "the guild's every pair cooldown")
        _ = try await redis.send(
            "DEL", "\(prefix):{4194304}:members", "\(prefix):{8388608}:members", "\(prefix):{4194304}:karma:2900",
            "\(prefix):{4194304}:karma-index:2900", "\(prefix):{4194304}:karma-pair:88:77", "\(prefix):{4194304}:karma-pair:66:55")
        await redis.close()
    }

    /// With a Redis, a deletion goes through Redis, SQL, then Redis again, and says what each pass
    /// found. The stores are found as the bot finds them: here from its configuration file alone.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aDeletionWithRedisPurgesItBeforeAndAfterSQL() async throws {
        let database = Database()
        _ = try await Kamii.run(["migrate", "--database", database.url])
        let redis = try RedisTestServer.client()
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        try await redis.send("HSET", "\(prefix):{4194304}:members", "~batch", "p-1", "77", "a record")
        try await redis.send("ZADD", "\(prefix):{4194304}:lb:xp", "20", "77")
        let server = try #require(RedisTestServer.configuration)
        let config = try TemporaryFile(Data("""
            {"token": "a.b.c", "database_url": "\(database.url)", "redis_url": "redis://\(server.host):\(server.port)", "stats_prefix": "\(prefix)"}
            """.utf8))
        let deletion = try await Kamii.run(["data", "delete", "--guild", "4194304", "--yes", "--config", config.path])
        #expect(deletion.status == 0, "\(deletion.stderr)")
        #expect(deletion.stdout.hasPrefix("deleted from Redis: 2 keys; again after SQL: 1\ndeleted: server_users=0"), "\(deletion.stdout)")
        let members = try await redis.send("HGETALL", "\(prefix):{4194304}:members").array?.compactMap(\.string) ?? []
        #expect(Array(members.prefix(2)) == ["~batch", "hydrated"] && members.count == 4 && members[2] == "~deleted", "\(members)")
        #expect(try await redis.send("HKEYS", "\(prefix):{4194304}:deleted").array?.compactMap(\.string) == ["*"], "the deletion is remembered")
        #expect(try await redis.send("EXISTS", "\(prefix):{4194304}:lb:xp").int == 0)
        _ = try await redis.send("DEL", "\(prefix):{4194304}:members", "\(prefix):{4194304}:deleted")
        await redis.close()
    }

    @Test func badRequestsAreClearErrors() async throws {
        let database = Database()
        _ = try await Kamii.run(["migrate", "--database", database.url])
        let both = try await Kamii.run(["data", "export", "--guild", "1", "--user", "2", "--database", database.url])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --guild and --user"))
        let zero = try await Kamii.run(["data", "export", "--guild", "0", "--database", database.url])
        #expect(zero.status != 0 && zero.stderr.contains("0 is not a Discord ID"))
        let huge = try await Kamii.run(["data", "delete", "--user", "9223372036854775808", "--yes", "--sql-only", "--database", database.url])
        #expect(huge.status != 0 && huge.stderr.contains("9223372036854775808 is not a Discord ID"), "refused before any store is touched")
        let globbed = try await Kamii.run(["data", "delete", "--user", "5", "--yes", "--redis", "redis://127.0.0.1:1", "--stats-prefix", "k?mii"])
        #expect(globbed.status != 0 && globbed.stderr.contains("stats prefix must be"), "\(globbed.stderr)")
        let scheme = try await Kamii.run(["migrate", "--database", "mysql://db/kamii"])
        #expect(scheme.status != 0 && scheme.stderr.contains("unsupported database URL"))
        // A Redis named for a deletion from SQL only, or one that is no URL: the setting that named it is said.
        let bothStores = try await Kamii.run(["data", "delete", "--user", "5", "--yes", "--sql-only", "--database", database.url, "--redis", "redis://127.0.0.1:1"])
        #expect(bothStores.status != 0 && bothStores.stderr.contains("--sql-only, yet a Redis is given (--redis)"), "\(bothStores.stderr)")
        var environment = ProcessInfo.processInfo.environment
        environment["KAMII_REDIS_URL"] = "http://127.0.0.1:1"
        for command in [["data", "export", "--user", "5"], ["trust", "--guild", "4194304", "--user", "5"]] {
            let badURL = try await Kamii.run(command + ["--database", database.url], environment: environment)
            #expect(badURL.status != 0 && badURL.stderr.contains("KAMII_REDIS_URL or redis_url: "), "\(command): \(badURL.stderr)")
        }
    }
}
