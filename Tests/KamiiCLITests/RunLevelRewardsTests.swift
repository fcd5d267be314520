import DiscordModels
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii run` carrying out level-ups: a guild configured in SQL with replacing reward roles and a
/// level-up channel ends with every member holding the reward of the level the simulator says they
/// reached, and with that level announced.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RunLevelRewardsTests {
    typealias RunningKamii = RunCommandTests.RunningKamii

    /// The member's roles; nil when they are not in the guild.
    static func roles(of user: UserID, in guild: GuildID, _ client: DiscordRESTClient) async throws -> [RoleID]? {
        do {
            return try await client.member(user, in: guild).roles
        } catch {
            if error.isUnknownMember { return nil }
            throw error
        }
    }

    /// A simulator of `world` with Discord's REST limits in windows 50 times shorter (a channel
    /// takes 5 messages per 0.1 s), and `kamii run`'s environment for it with a SQLite database at
    /// `database` where `guild` is configured as `config` says, each message earning 60 XP with no
    /// cooldown (levels come within seconds).
    static func start(
        _ world: TrafficWorld, maxDispatchesPerSession: Int, database: String, configuring guild: GuildID, _ config: GuildConfig
    ) async throws -> (server: SimulatorServer, environment: [String: String], prefix: String) {
        var simulated = SimulatorConfiguration(
            world: world, dispatchesPerSecond: 1_000, maxDispatchesPerSession: maxDispatchesPerSession, identifyWindowMilliseconds: 300)
        simulated.restLimits = RESTLimits(windowScale: 0.02)
        let server = try await SimulatorServer.start(simulated)
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        var environment = try RunHotPathTests.environment(server, prefix: prefix)
        environment["KAMII_DATABASE_URL"] = "sqlite:\(database)"
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(database)"))
        try await store.migrate()
        try await store.registerGuild(guild)
        var config = config
        config.xp.minPerMessage = 60
        config.xp.maxPerMessage = 60
        config.xp.cooldownSeconds = 0
        try await store.putGuildConfig(config, for: guild, by: UserID(1 << 40))
        try await store.close()
        return (server, environment, prefix)
    }

    @Test func membersGetTheRewardOfTheLevelTheyReachedAndItIsAnnounced() async throws {
        let world = TrafficWorld(guildCount: 8, userCount: 200, seed: 97)
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-levels-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) } }
        // The busiest guild with two plain roles (below the bot's): level 1 gives the first, level 2
        // replaces it with the second; level-ups are announced in its first channel.
        let guild = try #require(world.guilds.filter { $0.roles.count >= 4 }.max { $0.members.count < $1.members.count })
        let (first, second, channel) = (guild.roles[0], guild.roles[1], guild.channels[0])
        var config = GuildConfig()
        config.xp.levelRewards = [.init(level: 1, role: first), .init(level: 2, role: second)]
        config.xp.stackRewards = false
        config.channels.levelUp = channel
        let (server, environment, prefix) = try await Self.start(world, maxDispatchesPerSession: 4_000, database: database, configuring: guild.id, config)

        let redis = try RedisTestServer.client()
        let reader = StatsReader(redis: redis, keys: StatsKeys(prefix: prefix))
        let bots = Set(world.users.filter(\.isBot).map(\.id))
        func announcements() -> [RESTCall] {
            server.record.rest.filter { $0.method == "POST" && $0.path == "/api/v10/channels/\(channel.rawValue)/messages" }
        }
        /// Members at level 1 or more (judged by what Redis has: this guild's XP rules are not the
        /// ground truth's), and whether each one's level was announced.
        func levels() async throws -> [(user: UserID, level: Int, announced: Bool)] {
            // "<@user> … level **n**", once or several times per message → "user n".
            var made = Set<String>()
            for call in announcements() {
                var rest = call.body[...]
                while let mention = rest.range(of: "<@"), let close = rest[mention.upperBound...].firstIndex(of: ">"),
                      let level = rest[close...].range(of: "level **"), let end = rest[level.upperBound...].range(of: "**") {
                    made.insert("\(rest[mention.upperBound..<close]) \(rest[level.upperBound..<end.lowerBound])")
                    rest = rest[end.upperBound...]
                }
            }
            return try await reader.members(of: guild.id).compactMap { user, record in
                guard record.level >= 1, !bots.contains(user) else { return nil }
                return (user, record.level, made.contains("\(user.rawValue) \(record.level)"))
            }
        }
        let kamii = try RunningKamii(["run"], environment: environment)
        // A level-up's roles change before it is announced: once every level is announced, the
        // roles are final.
        try await kamii.waitFor("three members at level 2 and every level announced", timeout: .seconds(90)) { _ in
            let now = try await levels()
            return now.filter { $0.level >= 2 }.count >= 3 && now.allSatisfy(\.announced)
        }
        #expect(await kamii.stop() == 0, "\(kamii.log)")
        #expect(kamii.log.contains("level-ups carried out"), "\(kamii.log)")

        let client = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        /// Whether Kamii's own calls that worked leave the member with `role` (true), without it
        /// (false), or say nothing of it (nil).
        func kamiiLeaves(_ user: UserID, with role: RoleID) -> Bool? {
            let path = "/guilds/\(guild.id.rawValue)/members/\(user.rawValue)/roles/\(role.rawValue)"
            return server.record.rest.last { $0.path.hasSuffix(path) && (200..<300).contains($0.status) }.map { $0.method == "PUT" }
        }
        var checked = 0
        for (user, level, _) in try await levels() {
            // A member who left is not judged; one who came back is (their rewards are given again).
            guard let roles = try await Self.roles(of: user, in: guild.id, client) else { continue }
            // The traffic's moderators give and take the guild's plain roles too, the rewards among
            // them: a member may rightly end without one Kamii gave. Kamii is judged on what the
            // member holds, or else on what its own calls did.
            if level >= 2 {
                let holds = roles.contains(second) && !roles.contains(first)
                let gave = kamiiLeaves(user, with: second) == true && kamiiLeaves(user, with: first) != true
                #expect(holds || gave, "user \(user) at level \(level): \(roles)")
            } else {
                #expect(roles.contains(first) || kamiiLeaves(user, with: first) == true, "user \(user) at level 1: \(roles)")
            }
            checked += 1
        }
        #expect(checked >= 3)
        // No other guild configured anything: no reward or announcement elsewhere.
        #expect(server.record.rest.allSatisfy { !$0.path.contains("/roles/") || $0.path.contains("/guilds/\(guild.id.rawValue)/") })
        await redis.close()
        try await server.stop()
    }
}
