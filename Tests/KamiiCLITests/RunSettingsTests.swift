import DiscordModels
import DiscordSimulator
import Foundation
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii run` picking up what an admin saves while it runs: XP switched off in a busy guild stops
/// its members earning within a few seconds, while their messages go on counting.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RunSettingsTests {
    typealias RunningKamii = RunCommandTests.RunningKamii

    @Test func xpSwitchedOffWhileRunningStopsEarning() async throws {
        let world = TrafficWorld(guildCount: 8, userCount: 200, seed: 96)
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: world, dispatchesPerSecond: 1_000, maxDispatchesPerSession: 15_000, identifyWindowMilliseconds: 300))
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        var environment = try RunHotPathTests.environment(server, prefix: prefix)
        let database = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-settings-\(UUID().uuidString).sqlite").path
        environment["KAMII_DATABASE_URL"] = "sqlite:\(database)"
        environment["KAMII_SETTINGS_POLL_SECONDS"] = "1"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) } }

        // The busiest guild earns on every message (no cooldown), so XP moves with its traffic.
        let guild = try #require(world.guilds.max { $0.members.count < $1.members.count })
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(database)"))
        try await store.migrate()
        try await store.registerGuild(guild.id)
        var config = GuildConfig()
        config.xp.cooldownSeconds = 0
        try await store.putGuildConfig(config, for: guild.id, by: UserID(1 << 40))

        let redis = try RedisTestServer.client()
        let reader = StatsReader(redis: redis, keys: StatsKeys(prefix: prefix))
        func totals() async throws -> (xp: Int, messages: Int) {
            try await reader.members(of: guild.id).values.reduce((0, 0)) { ($0.0 + $1.xp, $0.1 + $1.messages) }
        }
        let kamii = try RunningKamii(["run"], environment: environment)
        do {
            try await waitUntil("the guild earning XP", timeout: .seconds(60)) { try await totals().xp >= 1_000 }
            config.modules.xp = false
            try await store.putGuildConfig(config, for: guild.id, by: UserID(1 << 40))
            // A look a second, the next event reads the settings, a flush every 100 ms.
            try await Task.sleep(for: .seconds(3))
            let switchedOff = try await totals()
            try await waitUntil("more messages after XP was switched off", timeout: .seconds(60)) {
                try await totals().messages >= switchedOff.messages + 100
            }
            let later = try await totals()
            #expect(later.xp == switchedOff.xp, "no XP once the save was seen: \(switchedOff) → \(later)")
            #expect(RunHotPathTests.liveDispatchesSent(server) < 2 * 15_000, "the traffic was still running")
        } catch {
            _ = await kamii.stop(signal: SIGKILL)
            Issue.record("\(error); kamii run said: \(kamii.log)")
            throw error
        }
        #expect(await kamii.stop() == 0, "\(kamii.log)")
        try await store.close()
        await redis.close()
        try await server.stop()
    }
}
