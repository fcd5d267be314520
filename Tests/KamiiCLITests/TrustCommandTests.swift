import DiscordModels
import Foundation
import KamiiRedis
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii trust` explains a member's trust as docs/TRUST.md's table scores it now — from Redis's
/// live stats when there is a Redis, else SQL's checkpoint — beside the value last stored.
@Suite struct TrustCommandTests {
    static let guild = GuildID(754_679_440_999_308_764)
    /// An account from 2016: more than three years old.
    static let user = UserID(unixMilliseconds: 1_460_000_000_000, increment: 9)
    static let day: Int64 = 86_400_000

    /// A database with the member checkpointed as SQL would hold them after a quiet half year:
    /// stored trust 25 (from when they joined), 150 messages, karma 6, an avatar, joined 200 days
    /// ago — and a warning given an hour ago.
    private func database() async throws -> StoreCommandTests.Database {
        let database = StoreCommandTests.Database()
        let store = try KamiiStore(StoreConfiguration(url: database.url))
        try await store.migrate()
        try await store.registerGuild(Self.guild)
        let now = Int64(Date().timeIntervalSince1970 * 1_000)
        _ = try await store.upsertServerUsers([ServerUserStats(
            guild: Self.guild, user: Self.user, xp: 900, level: 4, karma: 6, trust: 25, messageCount: 150, updatedAt: Date(),
            hasAvatar: true, joinedAt: now - 200 * Self.day, isPending: false, isVerified: false)])
        _ = try await store.createCase(NewPunishment(
            guild: Self.guild, user: Self.user, moderator: UserID(1 << 40), kind: .warn, reason: "spam", createdAt: Date().addingTimeInterval(-3_600)))
        try await store.close()
        return database
    }

    private func explain(_ arguments: [String], environment: [String: String]? = nil) async throws -> [String: Any] {
        let result = try await Kamii.run(
            ["trust", "--guild", String(Self.guild.rawValue), "--user", String(Self.user.rawValue), "--json"] + arguments,
            environment: environment ?? Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
    }

    private func points(_ document: [String: Any]) -> [String: Int] {
        Dictionary(((document["reasons"] as? [[String: Any]]) ?? []).compactMap { line in
            (line["reason"] as? String).flatMap { reason in (line["points"] as? Int).map { (reason, $0) } }
        }, uniquingKeysWith: +)
    }

    @Test func fromSQLsCheckpointEachReasonWithItsPoints() async throws {
        let database = try await database()
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") }
        environment["KAMII_DATABASE_URL"] = database.url
        let document = try await explain([], environment: environment)
        #expect(document["source"] as? String == "sql")
        #expect(document["stored"] as? Int == 25, "the stored value, from when they joined")
        #expect(points(document) == [
            "baseline": 50, "account age": 15, "has an avatar": 5, "time in the guild": 10, "activity": 10, "karma": 5, "warn": -5,
        ])
        #expect(document["trust"] as? Int == 90)

        // The text form says the same, with the stored value beside it.
        let text = try await Kamii.run(
            ["trust", "--guild", String(Self.guild.rawValue), "--user", String(Self.user.rawValue)], environment: environment)
        #expect(text.stdout.hasPrefix("trust of user \(Self.user.rawValue) in guild \(Self.guild.rawValue): 90 (stored: 25)"), "\(text.stdout)")
        #expect(text.stdout.contains("  -5  warn") && text.stdout.contains("from SQL's last checkpoint"), "\(text.stdout)")
        #expect(text.stderr.contains("no Redis given"))
    }

    @Test(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
    func fromRedisLiveStatsWhenThereIsARedis() async throws {
        let database = try await database()
        let redis = try RedisTestServer.client()
        let server = try #require(RedisTestServer.configuration)
        let prefix = "kamii-trust-\(UInt64.random(in: 0...UInt64.max))"
        let keys = StatsKeys(prefix: prefix)
        // Live: more messages and karma than the checkpoint, pending screening, no avatar.
        var write = RedisPipeline()
        write.beginCommand(arguments: 4)
        for argument in ["HSET", keys.members(in: Self.guild), String(Self.user.rawValue)] { write.appendArgument(argument) }
        let now = UInt64(Date().timeIntervalSince1970 * 1_000)
        write.appendArgument(bytes: MemberRecord(
            messages: 1_200, karma: 30, trust: 40, hasAvatar: false, joinedAt: now - 5 * UInt64(Self.day), isPending: true).stored)
        _ = try await redis.execute(write).first?.orThrow()
        let document = try await explain(["--database", database.url, "--redis", "redis://\(server.host):\(server.port)", "--stats-prefix", prefix])
        #expect(document["source"] as? String == "redis")
        #expect(document["stored"] as? Int == 40)
        #expect(points(document) == [
            "baseline": 50, "account age": 15, "no avatar": -5, "time in the guild": 0, "membership screening not passed": -10,
            "activity": 15, "karma": 10, "warn": -5,
        ].filter { $0.value != 0 })
        #expect(document["trust"] as? Int == 70)

        // What Redis cannot give is said, and SQL's checkpoint used: a damaged record, a prefix
        // that holds nothing of the guild.
        var damage = RedisPipeline()
        damage.beginCommand(arguments: 4)
        for argument in ["HSET", keys.members(in: Self.guild), String(Self.user.rawValue), "junk"] { damage.appendArgument(argument) }
        _ = try await redis.execute(damage).first?.orThrow()
        for (prefixGiven, warning) in [(prefix, "cannot be read"), (prefix + "-wrong", "holds nothing of guild")] {
            let result = try await Kamii.run(
                ["trust", "--guild", String(Self.guild.rawValue), "--user", String(Self.user.rawValue), "--json", "--database", database.url,
                 "--redis", "redis://\(server.host):\(server.port)", "--stats-prefix", prefixGiven],
                environment: Self.environment)
            #expect(result.status == 0 && result.stderr.contains(warning), "\(result.stderr)")
            #expect(result.stdout.contains(#""source" : "sql""#), "\(result.stdout)")
        }
        _ = try await redis.send("DEL", keys.members(in: Self.guild))
        await redis.close()
    }

    /// The tests' environment without a developer's own `KAMII_*` settings.
    static var environment: [String: String] { ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("KAMII_") } }

    @Test func aMemberNeverSeenIsJudgedOnTheAccountAndTheirCases() async throws {
        let database = try await database()
        let stranger = UserID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1_000) - 3_600_000, increment: 1)
        let result = try await Kamii.run(
            ["trust", "--guild", String(Self.guild.rawValue), "--user", String(stranger.rawValue), "--json", "--database", database.url],
            environment: Self.environment)
        #expect(result.status == 0, "\(result.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(document["source"] as? String == "none" && document["stored"] == nil)
        #expect(points(document) == ["baseline": 50, "account age": -30], "an hour-old account")
        #expect(document["trust"] as? Int == 20)
    }
}
