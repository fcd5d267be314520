import DiscordGateway
import DiscordModels
import DiscordREST
import DiscordSimulator
import KamiiCore
import KamiiRedis
import KamiiShards
import KamiiStats
import KamiiStore
import KamiiTestSupport
import Synchronization
import Testing

/// The whole hot path against the simulator: shards → guild router → guild actors → stats buffer
/// → flusher → redis-server; every member's totals compared with the simulator's ground truth.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct HotPathEndToEndTests {
    /// Live dispatches each shard's consumer got, by shard.
    final class Delivered: Sendable {
        private let counts = Mutex<[Int: [String: Int]]>([:])
        func add(_ shard: Int, _ name: String) { counts.withLock { $0[shard, default: [:]][name, default: 0] += 1 } }
        func of(_ shard: Int) -> [String: Int] { counts.withLock { $0[shard] ?? [:] } }
        var total: Int { counts.withLock { $0.values.reduce(0) { $0 + $1.values.reduce(0, +) } } }
    }

    @Test func twoHundredThousandEventsEndWithTheSimulatorsExactTotalsThroughARedisRestart() async throws {
        let shardCount = 4
        let perSession = 50_000
        let world = TrafficWorld(guildCount: 60, userCount: 3_000, seed: 2_026)
        // Channel rules in every guild: one channel earns no XP, one 1.5×, one 0.5×; messages in
        // threads of those channels follow them (the bot learns each thread's channel on the way).
        // Role rules too, judged by the roles each message lists as moderators give and take them:
        // in half the guilds a plain role earns nothing; elsewhere one doubles, one halves; and
        // everything is 1.2× the roll.
        var config = GuildConfig()
        config.xp.multiplier = 1.2
        for (index, guild) in world.guilds.enumerated() {
            config.xp.noXPChannels.append(guild.channels[0])
            config.xp.channelMultipliers[guild.channels[1]] = 1.5
            config.xp.channelMultipliers[guild.channels[2]] = 0.5
            if index.isMultiple(of: 2) { config.xp.noXPRoles.append(guild.roles[0]) } else { config.xp.roleMultipliers[guild.roles[0]] = 2 }
            if guild.roles.count > 1 { config.xp.roleMultipliers[guild.roles[1]] = 0.5 }
        }
        // Members holding it are verified, for trust: a role of the first guild.
        let verifiedRole = world.guilds[0].roles[0]
        config.verifiedRole = verifiedRole
        var simulation = SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 5_000, world: world,
            dispatchesPerSecond: 6_000, maxDispatchesPerSession: perSession, maxConcurrency: shardCount, identifyWindowMilliseconds: 200)
        simulation.xpRules.noXPChannels = Set(config.xp.noXPChannels)
        simulation.xpRules.channelMultipliers = config.xp.channelMultipliers
        simulation.xpRules.noXPRoles = Set(config.xp.noXPRoles)
        simulation.xpRules.roleMultipliers = config.xp.roleMultipliers
        simulation.xpRules.multiplier = config.xp.multiplier
        let server = try await SimulatorServer.start(simulation)
        let redisServer = try RedisProcess()
        let redis = RedisClient(configuration: redisServer.configuration)

        config.modules.karma = true
        config.karma.emoji = Array(server.configuration.xpRules.karmaEmoji)
        config.karma.cooldownSeconds = 0
        let buffer = StatsBuffer(capacity: 200_000)
        let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(GuildSettings(config)))
        let keys = StatsKeys()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(interval: .milliseconds(100), keys: keys))
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages, .guildMessageReactions, .guildMembers],
                count: .fixed(shardCount), identifyWindow: .milliseconds(200)),
            rest: rest, coordination: .local)
        let delivered = Delivered()

        let flushing = Task { await flusher.run() }
        async let run = manager.run { shard, dispatch in
            await router.route(dispatch)
            delivered.add(shard, dispatch.name)
        }

        // Redis goes away a third of the way in and comes back: flushes fail, are kept, and retried.
        try await waitUntil("a third of the traffic", timeout: .seconds(300)) { delivered.total >= shardCount * perSession / 3 }
        redisServer.stop()
        let probe = RedisClient(configuration: redisServer.configuration)
        await #expect(throws: (any Error).self, "Redis is down") { try await probe.send("PING") }
        await probe.close()
        try await Task.sleep(for: .milliseconds(700))
        try redisServer.start()

        func sent(_ shard: Int) -> [String: Int] {
            server.record.connections.filter { $0.shard == [shard, shardCount] }.reduce(into: [:]) { total, connection in
                total.merge(connection.dispatches) { $0 + $1 }
            }.filter { $0.key != "RESUMED" }
        }
        try await waitUntil("every session's traffic, delivered", timeout: .seconds(300)) {
            (0..<shardCount).allSatisfy { shard in
                let sentNow = sent(shard)
                let live = sentNow.filter { $0.key != "READY" && $0.key != "GUILD_CREATE" }.values.reduce(0, +)
                return live >= perSession && delivered.of(shard).filter { $0.key != "RESUMED" } == sentNow
            }
        }
        await manager.shutdown()
        _ = try await run
        buffer.finish()
        await flushing.value
        #expect(buffer.unacknowledged == 0)
        #expect(router.counters.malformed == 0)
        let threadsOpened = (0..<shardCount).map { delivered.of($0)["THREAD_CREATE"] ?? 0 }.reduce(0, +)
        #expect(threadsOpened > 100 && router.threads.threadCount > 0, "\(threadsOpened) threads opened, \(router.threads.threadCount) known")
        let totals = await flusher.totals
        #expect(totals.failedAttempts > 0, "the restart was felt: \(totals)")

        let bots = Set(server.configuration.world.users.filter(\.isBot).map(\.id))
        var checked = (members: 0, xp: 0, karma: 0, passed: 0, updated: 0)
        let screening = Set(world.guilds.filter(world.screensNewMembers).map(\.id))
        let reader = StatsReader(redis: redis, keys: keys)
        for (guild, members) in server.groundTruth.all {
            let records = try await reader.members(of: guild)
            for (user, truth) in members {
                let record = records[user] ?? MemberRecord()
                let stored = [record.xp, record.xpMessages, record.messages, record.karma]
                #expect(stored[0] == truth.xp && stored[1] == truth.messagesEarningXP, "guild \(guild) user \(user): \(stored) vs \(truth)")
                #expect(stored[2] == (bots.contains(user) ? 0 : truth.messages), "guild \(guild) user \(user) messages")
                #expect(stored[3] == truth.karma, "guild \(guild) user \(user) karma")
                // What the member's last join or update said: still pending screening, and
                // holding the verified role (or not).
                if let pending = truth.pending, !bots.contains(user) {
                    #expect(record.isPending == pending, "guild \(guild) user \(user) pending")
                    // Joined pending, then passed screening.
                    if !pending, truth.joins > 0, screening.contains(guild) { checked.passed += 1 }
                }
                if let roles = truth.roles, !bots.contains(user) {
                    #expect(record.isVerified == roles.contains(verifiedRole), "guild \(guild) user \(user) verified")
                    if !roles.isEmpty { checked.updated += 1 }
                }
                checked.members += 1
                checked.xp += truth.xp
                checked.karma += truth.karma
            }
        }
        #expect(checked.members > 1_000 && checked.xp > 100_000 && checked.karma > 100, "\(checked)")
        #expect(checked.passed > 10 && checked.updated > 50, "\(checked)")
        let levels = try await redis.send("ZREVRANGE", keys.leaderboard(.xp, in: server.configuration.world.guilds[0].id), "0", "0", "WITHSCORES")
        #expect(levels.array?.count == 2)
        await redis.close()
        try await server.stop()
    }
}
