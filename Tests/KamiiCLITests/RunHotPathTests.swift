import DiscordModels
import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// `kamii run` applying XP: stopped with SIGTERM mid-traffic and started again, it ends with the
/// simulator's exact totals in Redis — nothing delivered before the stop was lost, nothing sent
/// after the resume counted twice.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RunHotPathTests {
    typealias RunningKamii = RunCommandTests.RunningKamii

    /// Every ground-truth member's XP, XP messages, messages and karma: in Redis, and as the simulator says.
    static func comparisons(
        _ server: SimulatorServer, _ redis: RedisClient, prefix: String
    ) async throws -> [(member: String, stored: [Int], expected: [Int])] {
        let bots = Set(server.configuration.world.users.filter(\.isBot).map(\.id))
        let reader = StatsReader(redis: redis, keys: StatsKeys(prefix: prefix))
        var stored: [GuildID: [UserID: MemberRecord]] = [:]
        for guild in server.configuration.world.guilds {
            stored[guild.id] = try await reader.members(of: guild.id)
        }
        // The truth is read after Redis: it only grows, so Redis can match it only when everything
        // sent was flushed and nothing was sent meanwhile — not mid-traffic, by a flush landing
        // between a snapshot of the truth and the reads.
        let truth = server.groundTruth.all
        var compared: [(member: String, stored: [Int], expected: [Int])] = []
        for (guild, records) in stored {
            let members = truth[guild] ?? [:]
            for user in Set(members.keys).union(records.keys) {
                let record = records[user] ?? MemberRecord()
                let expected = members[user]
                compared.append((
                    "guild \(guild) user \(user)", [record.xp, record.xpMessages, record.messages, record.karma],
                    [expected?.xp ?? 0, expected?.messagesEarningXP ?? 0, bots.contains(user) ? 0 : expected?.messages ?? 0, expected?.karma ?? 0]))
            }
        }
        return compared
    }

    /// Live dispatches sent so far, over every connection (replays on resume are not counted again).
    static func liveDispatchesSent(_ server: SimulatorServer) -> Int {
        server.record.connections.reduce(0) { total, connection in
            total + connection.dispatches.filter { !["READY", "GUILD_CREATE", "RESUMED"].contains($0.key) }.values.reduce(0, +)
        }
    }

    /// Both sessions' traffic (2 × `maxDispatchesPerSession`) has been sent: the ground truth is final.
    static func trafficIsOver(_ server: SimulatorServer) -> Bool {
        liveDispatchesSent(server) >= 2 * (server.configuration.maxDispatchesPerSession ?? .max)
    }

    /// Members whose XP, XP messages, messages or karma in Redis differ from the ground truth (or,
    /// with `onlyAbove`, whose XP, XP messages or messages exceed it).
    static func mismatches(_ server: SimulatorServer, _ redis: RedisClient, prefix: String, onlyAbove: Bool = false) async throws -> [String] {
        try await comparisons(server, redis, prefix: prefix).compactMap { member, stored, expected in
            // Karma goes down too (a reaction taken back): only the counts that only grow are judged "above".
            let differs = onlyAbove ? zip(stored.prefix(3), expected.prefix(3)).contains { $0 > $1 } : stored != expected
            return differs ? "\(member): \(stored) ≠ \(expected)" : nil
        }
    }

    /// Two shards, Redis with keys of their own, flushes every 100 ms.
    static func environment(_ server: SimulatorServer, prefix: String) throws -> [String: String] {
        let redis = try #require(RedisTestServer.configuration)
        var environment = RunCommandTests.environment(server, redis: "redis://\(redis.host):\(redis.port)")
        environment["KAMII_SHARDS"] = "2"
        environment["KAMII_NAMESPACE"] = prefix
        environment["KAMII_STATS_PREFIX"] = prefix
        environment["KAMII_FLUSH_INTERVAL_MS"] = "100"
        return environment
    }

    /// A simulator whose guilds all have channel rules (one channel earns no XP, one 1.5×, one
    /// 0.5×), a role rule (a role earns nothing, or doubles) and karma, and a SQL database at `database`
    /// that holds them. A process that resumes its sessions gets no GUILD_CREATE: the threads its
    /// predecessor learnt must still follow their channels, from what Redis kept of them.
    static func simulatorWithXPRules(seed: UInt64, database: String) async throws -> SimulatorServer {
        let world = TrafficWorld(guildCount: 30, userCount: 600, seed: seed)
        var simulation = SimulatorConfiguration(
            world: world, dispatchesPerSecond: 3_000, maxDispatchesPerSession: 9_000, identifyWindowMilliseconds: 300)
        var config = GuildConfig()
        // Channel and role rules, as an admin saves them: the roles judged are those each message
        // lists, as the traffic's moderators give and take them.
        for (index, guild) in world.guilds.enumerated() {
            config.xp.noXPChannels.append(guild.channels[0])
            config.xp.channelMultipliers[guild.channels[1]] = 1.5
            config.xp.channelMultipliers[guild.channels[2]] = 0.5
            if index.isMultiple(of: 2) { config.xp.noXPRoles.append(guild.roles[0]) } else { config.xp.roleMultipliers[guild.roles[0]] = 2 }
        }
        simulation.xpRules.noXPChannels = Set(config.xp.noXPChannels)
        simulation.xpRules.channelMultipliers = config.xp.channelMultipliers
        simulation.xpRules.noXPRoles = Set(config.xp.noXPRoles)
        simulation.xpRules.roleMultipliers = config.xp.roleMultipliers
        // Karma too, with no pair cooldown (the ground truth counts every reaction): the ledger
        // must take back exactly what it gave, across the restarts and replays these tests make.
        config.modules.karma = true
        config.karma.emoji = simulation.xpRules.karmaEmoji.sorted()
        config.karma.cooldownSeconds = 0
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(database)"))
        _ = try await store.migrate()
        for guild in world.guilds {
            try await store.registerGuild(guild.id)
            try await store.putGuildConfig(config, for: guild.id, by: UserID(1))
        }
        try await store.close()
        return try await SimulatorServer.start(simulation)
    }

    /// A SQLite file for one test (``remove(database:)`` deletes it).
    static func temporaryDatabase() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("kamii-run-\(UUID().uuidString).sqlite").path
    }

    static func remove(database: String) {
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
    }

    /// ``simulatorWithXPRules(seed:database:)``, Redis, keys of the test's own and the environment
    /// of a `kamii run` with that database.
    static func runWithXPRules(
        seed: UInt64, database: String
    ) async throws -> (server: SimulatorServer, redis: RedisClient, prefix: String, environment: [String: String]) {
        let server = try await simulatorWithXPRules(seed: seed, database: database)
        let redis = try RedisTestServer.client()
        let prefix = "kamii-test-\(UInt64.random(in: 0...UInt64.max))"
        var environment = try environment(server, prefix: prefix)
        environment["KAMII_DATABASE_URL"] = "sqlite:\(database)"
        return (server, redis, prefix, environment)
    }

    /// Waits, while `kamii` runs, until all traffic is sent and every member's XP and XP messages
    /// in Redis are the ground truth's, their messages at least as many; returns how many messages
    /// were counted beyond it (twice).
    static func waitForExactXP(_ kamii: RunningKamii, _ server: SimulatorServer, _ redis: RedisClient, prefix: String) async throws -> Int {
        var overcounted = 0
        try await kamii.waitFor("Redis to agree with the ground truth on XP", timeout: .seconds(120)) { _ in
            guard trafficIsOver(server) else { return false }
            let compared = try await comparisons(server, redis, prefix: prefix)
            guard compared.allSatisfy({
                $0.stored[0] == $0.expected[0] && $0.stored[1] == $0.expected[1] && $0.stored[2] >= $0.expected[2] && $0.stored[3] == $0.expected[3]
            })
            else { return false }
            overcounted = compared.reduce(0) { $0 + $1.stored[2] - $1.expected[2] }
            return true
        } explaining: {
            let wrong = try await mismatches(server, redis, prefix: prefix)
            return "\(wrong.count) members differ, e.g. \(wrong.prefix(5))"
        }
        return overcounted
    }

    @Test func aStopAndARestartMidTrafficEndWithExactTotals() async throws {
        let database = Self.temporaryDatabase()
        defer { Self.remove(database: database) }
        let (server, redis, prefix, environment) = try await Self.runWithXPRules(seed: 98, database: database)

        let first = try RunningKamii(["run"], environment: environment)
        try await first.waitFor("a third of the traffic") { log in
            log.contains("xp_grants=") && server.record.connections.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) } > 5_000
        }
        #expect(await first.stop() == 0, "\(first.log)")
        #expect(first.log.contains("stats flushed"), "\(first.log)")
        #expect(first.log.contains("unflushed=0"), "everything delivered was flushed before exit: \(first.log)")
        let messagesBeforeRestart = server.record.connections.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) }
        #expect(messagesBeforeRestart < 12_000, "stopped mid-traffic")
        // Dispatches in flight at the stop are counted by the simulator and delivered after the resume.
        #expect(try await Self.mismatches(server, redis, prefix: prefix, onlyAbove: true).isEmpty, "nothing counted beyond what was sent")

        let second = try RunningKamii(["run"], environment: environment)
        try await second.waitFor("Redis to agree with the ground truth", timeout: .seconds(120)) { _ in
            // Exact once all of it is sent: what is in flight at the stop below would otherwise be
            // counted by the simulator and never reach this process.
            guard Self.trafficIsOver(server) else { return false }
            return try await Self.mismatches(server, redis, prefix: prefix).isEmpty
        } explaining: {
            let wrong = try await Self.mismatches(server, redis, prefix: prefix)
            return "\(wrong.count) members differ, e.g. \(wrong.prefix(5))"
        }
        #expect(await second.stop() == 0)
        #expect(second.log.contains("resuming 2 saved sessions"), "\(second.log)")
        #expect(second.log.contains("thread maps restored"), "\(second.log)")
        #expect(try await Self.mismatches(server, redis, prefix: prefix).isEmpty)
        #expect(try await Self.comparisons(server, redis, prefix: prefix).filter { $0.expected[3] != 0 }.count > 20, "members with karma compared")
        #expect(second.log.contains("checkpointed to SQL"), "\(second.log)")

        // The checkpoint at shutdown: SQL holds what Redis holds.
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(database)"))
        var compared = 0
        for (guild, members) in server.groundTruth.all {
            for (user, truth) in members where truth.xp > 0 {
                let row = try await store.serverUser(user, in: guild)
                #expect(row?.xp == Int64(truth.xp), "guild \(guild) user \(user) in SQL")
                compared += 1
            }
        }
        #expect(compared > 100)
        try await store.close()
        await redis.close()
        try await server.stop()
    }

    /// kill -9 mid-traffic: the sessions saved were only as far as Redis had the changes, so the
    /// restarted process resumes from there — nothing lost, and XP (re-checked against each
    /// member's last XP in Redis) never counted twice. What the killed process changed but never
    /// checkpointed reaches SQL through the restarted one (the change journal is in Redis).
    /// With channel rules: the thread maps Redis kept are as far as the saved sessions, so the
    /// messages replayed after the resume follow the same rules as the first time.
    @Test func aKilledProcessResumesFromWhatRedisHas() async throws {
        let database = Self.temporaryDatabase()
        defer { Self.remove(database: database) }
        let (server, redis, prefix, environment) = try await Self.runWithXPRules(seed: 99, database: database)
        func messagesSent() -> Int { server.record.connections.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) } }

        let first = try RunningKamii(["run"], environment: environment)
        try await first.waitFor("a third of the traffic") { $0.contains("xp_grants=") && messagesSent() > 5_000 }
        _ = await first.stop(signal: SIGKILL)
        #expect(messagesSent() < 12_000, "killed mid-traffic")

        let second = try RunningKamii(["run"], environment: environment)
        let overcounted = try await Self.waitForExactXP(second, server, redis, prefix: prefix)
        #expect(await second.stop() == 0)
        #expect(second.log.contains("resuming 2 saved sessions"), "\(second.log)")
        #expect(second.log.contains("thread maps restored"), "\(second.log)")
        // Message counts are not re-checked like XP: exactness rests on the saved sessions. They
        // are written in the same transaction as the changes they cover, a take claims exactly the
        // dispatches it holds (a position read before the take used to claim less: up to ≈ 195
        // counted twice under load), and a save never puts an earlier point back.
        #expect(overcounted == 0, "messages counted twice: \(overcounted); the killed run said: \(first.log.suffix(6_000))")

        // The second process's checkpoint at shutdown copied everything Redis holds, the first's
        // changes too. (Compared with Redis after the stop, not with the ground truth: traffic goes
        // on after the wait above, and what was in flight at the stop is counted as sent but only
        // delivered to a process that resumes.)
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(database)"))
        let reader = StatsReader(redis: redis, keys: StatsKeys(prefix: prefix))
        var compared = 0
        var mismatches: [String] = []
        for (guild, members) in server.groundTruth.all {
            let records = try await reader.members(of: guild)
            for (user, truth) in members {
                let row = try await store.serverUser(user, in: guild)
                let xp = records[user]?.xp ?? 0
                if (row?.xp ?? 0) != Int64(xp) || xp > truth.xp {
                    mismatches.append("guild \(guild) user \(user): SQL \(String(describing: row?.xp)), Redis \(xp), truth \(truth.xp)")
                }
                if xp > 0 { compared += 1 }
            }
        }
        if !mismatches.isEmpty {
            let entries = try await redis.send("HLEN", StatsKeys(prefix: prefix).changeJournal).int ?? -1
            Issue.record("\(mismatches.count) members differ, e.g. \(mismatches.prefix(5)); journal entries left \(entries); the restarted run said: \(second.log.suffix(6_000))")
        }
        #expect(second.log.contains("checkpointed to SQL"), "\(second.log.suffix(3_000))")
        #expect(compared > 100)
        try await store.close()
        await redis.close()
        try await server.stop()
    }
}
