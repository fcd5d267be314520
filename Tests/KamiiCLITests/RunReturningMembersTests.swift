import DiscordModels
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii run` giving returning members their reward roles back across a kill -9: the joins the
/// flushes applied wait in Redis, so the next process carries out what the killed one could not.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RunReturningMembersTests {
    typealias RunningKamii = RunCommandTests.RunningKamii

    /// Every member of the one guild talks and reaches level 1 (its reward role) within seconds;
    /// members leave and come back (every join is a return: the guild has every user). While
    /// Discord answers 503 before applying anything, the returns wait in Redis; the process is
    /// killed; the next one, Discord back, gives each their role.
    @Test func returningMembersGetTheirRolesFromTheProcessAfterAKill() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 60, seed: 211)
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-returns-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) } }
        let guild = world.guilds[0]
        // Without Membership Screening: a member back pending would rightly be owed nothing yet.
        try #require(!world.screensNewMembers(guild))
        let reward = try #require(guild.roles.first)
        var config = GuildConfig()
        config.xp.levelRewards = [.init(level: 1, role: reward)]
        let (server, environment, prefix) = try await RunLevelRewardsTests.start(
            world, maxDispatchesPerSession: 40_000, database: database, configuring: guild.id, config)

        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: prefix)
        func hashKeys(_ key: String) async throws -> Set<UInt64> {
            Set(try await redis.send("HKEYS", key).array?.compactMap { $0.string.flatMap(UInt64.init) } ?? [])
        }
        let first = try RunningKamii(["run"], environment: environment)
        // Discord reached: the first rewards given.
        try await first.waitFor("twenty rewards given") { _ in
            server.record.rest.filter { $0.method == "PUT" && $0.path.hasSuffix("/roles/\(reward.rawValue)") && $0.status == 204 }.count >= 20
        }
        server.forceServerErrors(count: 1_000_000, status: 503, applied: false)
        let outage = server.record.rest.count
        let waitingAtOutage = try await hashKeys(keys.waitingJoins(in: guild.id))
        // Returns whose roles Discord could not have given: joins flushed since the outage began,
        // and those waiting then whose calls failed since; those with a level-up from 0 waiting
        // too are left out (the level-up would give the role, whatever became of the join).
        var returned: Set<UInt64> = []
        try await first.waitFor("members back whose roles wait", timeout: .seconds(90)) { _ in
            let failed = Set(server.record.rest.dropFirst(outage).compactMap { call -> UInt64? in
                guard call.method == "PUT", call.status == 503, let members = call.path.range(of: "/members/") else { return nil }
                return UInt64(call.path[members.upperBound...].prefix { $0 != "/" })
            })
            let joins = try await hashKeys(keys.waitingJoins(in: guild.id))
            let levelUps = try await redis.send("HGETALL", keys.waitingLevelUps(in: guild.id)).array?.compactMap(\.string) ?? []
            let fromZero = stride(from: 0, to: levelUps.count - 1, by: 2).filter { levelUps[$0 + 1].hasPrefix("0:") }.compactMap { UInt64(levelUps[$0]) }
            returned = joins.subtracting(waitingAtOutage).union(joins.intersection(failed)).subtracting(fromZero)
            return returned.count >= 3
        }
        _ = await first.stop(signal: SIGKILL)
        server.forceServerErrors(count: 0)

        let second = try RunningKamii(["run"], environment: environment)
        try await second.waitFor("the returns carried out and cleared") { _ in
            try await hashKeys(keys.waitingJoins(in: guild.id)).isDisjoint(with: returned)
        }
        #expect(await second.stop() == 0, "\(second.log)")
        #expect(second.log.contains("giving back the roles of returning members an earlier run left"), "\(second.log)")

        let client = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        var checked = 0
        for user in returned.sorted() {
            // One who left again since is not judged.
            guard let roles = try await RunLevelRewardsTests.roles(of: UserID(user), in: guild.id, client) else { continue }
            #expect(roles.contains(reward), "user \(user) came back at level 1 or more: \(roles)")
            checked += 1
        }
        #expect(checked >= 1)
        await redis.close()
        try await server.stop()
    }
}
