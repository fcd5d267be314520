import DiscordGateway
import DiscordModels
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiShards
import KamiiTestSupport
import Testing

/// Shard managers against the simulator, coordinating through the real redis-server: the
/// simulator's record of identifies, sessions and dispatches is the judge.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct ShardManagerTests {
    /// What each shard's consumer received, in order.
    final class Received: Sendable {
        private let items = Locked<[Int: [(name: String, sequence: Int?)]]>([:])

        func add(_ shard: Int, _ dispatch: ShardDispatch) {
            items.withLock { $0[shard, default: []].append((dispatch.name, dispatch.sequence)) }
        }

        func of(_ shard: Int) -> [(name: String, sequence: Int?)] { items.withLock { $0[shard] ?? [] } }
        func readies() -> Int { items.withLock { $0.values.reduce(0) { $0 + $1.filter { $0.name == "READY" }.count } } }
        var total: Int { items.withLock { $0.values.reduce(0) { $0 + $1.count } } }
    }

    static let intents: GatewayIntents = [.guilds, .guildMessages, .guildMessageReactions, .guildMembers]

    static func manager(
        _ server: SimulatorServer, coordination: ShardCoordination, namespace: String, count: Int,
        selection: ShardPlan.Selection = .all, reserve: Int = 0
    ) -> ShardManager {
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        return ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: intents, count: .fixed(count), selection: selection,
                identifyWindow: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds)), sessionReserve: reserve,
                sessionSaveInterval: .milliseconds(200), backoffBase: 0.05, backoffCap: 0.5, namespace: namespace),
            rest: rest, coordination: coordination)
    }

    static func namespace() -> String { "test-\(UInt64.random(in: 0...UInt64.max))" }

    @Test func twoManagersSharingBucketsNeverIdentifyInTheSameWindow() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 16, userCount: 300, seed: 91), dispatchesPerSecond: 20, maxConcurrency: 2,
            identifyWindowMilliseconds: 400))
        let namespace = Self.namespace()
        let (redisA, redisB) = (try RedisTestServer.client(), try RedisTestServer.client())
        // Cluster 0 runs shards 0–3, cluster 1 shards 4–7: both clusters have shards of both buckets.
        let managers = [
            Self.manager(server, coordination: .redis(redisA), namespace: namespace, count: 8, selection: .cluster(index: 0, of: 2)),
            Self.manager(server, coordination: .redis(redisB), namespace: namespace, count: 8, selection: .cluster(index: 1, of: 2)),
        ]
        let received = Received()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for manager in managers {
                group.addTask { _ = try await manager.run { received.add($0, $1) } }
            }
            try await waitUntil("8 sessions") { received.readies() == 8 }
            for manager in managers { await manager.shutdown() }
            try await group.waitForAll()
        }
        #expect(server.identifyBucketViolations == 0)
        #expect(Set(server.record.connections.compactMap { $0.sessionID }).count == 8)
        await redisA.close()
        await redisB.close()
        try await server.stop()
    }

    /// A simulator recommending 2 shards for 8 guilds, and a REST client for it.
    static func autoShardedSimulator(seed: UInt64) async throws -> (SimulatorServer, DiscordRESTClient) {
        var configuration = SimulatorConfiguration(
            world: TrafficWorld(guildCount: 8, userCount: 200, seed: seed), dispatchesPerSecond: 0, identifyWindowMilliseconds: 200)
        configuration.recommendedShards = 2
        let server = try await SimulatorServer.start(configuration)
        return (server, DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token)))
    }

    /// Process `index` of a cluster of two with `shards: auto`, agreeing on the count in `redis`.
    static func clusterProcess(_ index: Int, of server: SimulatorServer, rest: DiscordRESTClient, redis: RedisClient, namespace: String) -> ShardManager {
        ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: intents, count: .automatic, selection: .cluster(index: index, of: 2),
                identifyWindow: .milliseconds(200), backoffBase: 0.05, backoffCap: 0.5, namespace: namespace),
            rest: rest, coordination: .redis(redis))
    }

    /// Processes sharing a bot's shards with `shards: auto` run by one count: the first one's, kept
    /// in Redis — a later one that Discord now tells of another count runs by it, or guilds would go
    /// to two sessions or to none.
    @Test func processesSharingShardsRunByTheFirstOnesCount() async throws {
        let (server, rest) = try await Self.autoShardedSimulator(seed: 92)
        let namespace = Self.namespace()
        let redis = try RedisTestServer.client()
        // The first process, started when Discord recommended 4.
        try await redis.send("SET", "kamii:gateway:{\(namespace)}:shard-count", "4")
        let manager = Self.clusterProcess(1, of: server, rest: rest, redis: redis, namespace: namespace)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("2 sessions") { received.readies() == 2 }
        let plan = await manager.plan
        #expect(plan?.shardCount == 4 && plan?.shards == [2, 3], "\(String(describing: plan))")
        await manager.shutdown()
        _ = try await stopped
        // With nothing kept, the first process keeps Discord's count for the others.
        try await redis.send("DEL", "kamii:gateway:{\(namespace)}:shard-count")
        let first = Self.clusterProcess(0, of: server, rest: rest, redis: redis, namespace: namespace)
        async let firstStopped = first.run { received.add($0, $1) }
        try await waitUntil("its session") { received.readies() == 3 }
        #expect(try await redis.send("GET", "kamii:gateway:{\(namespace)}:shard-count").string == "2")
        await first.shutdown()
        _ = try await firstStopped
        await redis.close()
        try await server.stop()
    }

    /// Redis away when a process of a cluster starts: the shard count is agreed once it is back,
    /// and the shards start then — the process does not stop.
    @Test func aClusterProcessWaitsForRedisToAgreeOnTheShardCount() async throws {
        let (server, rest) = try await Self.autoShardedSimulator(seed: 94)
        let redisServer = try RedisProcess()
        redisServer.stop()
        let redis = RedisClient(configuration: redisServer.configuration)
        let namespace = Self.namespace()
        let manager = Self.clusterProcess(0, of: server, rest: rest, redis: redis, namespace: namespace)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await Task.sleep(for: .milliseconds(1_500))
        let planned = await manager.plan
        #expect(received.readies() == 0 && planned == nil, "no shard before the count is agreed")
        try redisServer.start()
        try await waitUntil("its session", timeout: .seconds(20)) { received.readies() == 1 }
        #expect(try await redis.send("GET", "kamii:gateway:{\(namespace)}:shard-count").string == "2")
        await manager.shutdown()
        _ = try await stopped
        await redis.close()
        try await server.stop()
    }

    /// A 4004 (the token refused) is the bot's, not one shard's: every shard stops at once, and the
    /// ones still waiting for their turn do not identify to be refused one by one.
    /// A refusal of what every shard sends alike (token, API version, intents) stops every shard
    /// at once, before the others are refused in turn.
    @Test(arguments: [UInt16(4004), 4012, 4013, 4014])
    func aRefusalOfWhatEveryShardSendsStopsEveryShardAtOnce(code: UInt16) async throws {
        var configuration = SimulatorConfiguration(world: TrafficWorld(guildCount: 8, userCount: 200, seed: 93), dispatchesPerSecond: 0)
        configuration.recommendedShards = 4
        let server = try await SimulatorServer.start(configuration)
        let gateway = try await ScriptedGateway(closeOnIdentify: code)
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: Self.intents, gatewayURL: gateway.url, compression: .none, count: .fixed(4),
                identifyWindow: .milliseconds(1_000), sessionReserve: 0, backoffBase: 0.05, backoffCap: 0.5, namespace: Self.namespace()),
            rest: rest, coordination: .local)
        let reasons = try await manager.run { _, _ in }
        #expect(gateway.received.identifies == 1, "one identify refused, none after it")
        let refused = reasons.values.filter { if case .closed(code, _) = $0 { true } else { false } }
        #expect(refused.count == 1 && reasons.values.filter { $0 == .shutdown }.count == 3, "\(reasons)")
        try await gateway.close()
        try await server.stop()
    }

    /// A start whose invalid-request budget is spent (a process before it, on this host, was
    /// refused thousands of times) waits until it can ask Discord again, rather than exiting to be
    /// restarted in a loop that could not ask either.
    @Test func aStartWithTheBudgetSpentWaitsForIt() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 4, userCount: 100, seed: 94), dispatchesPerSecond: 0))
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(
            apiBaseURL: server.apiBaseURL, token: server.configuration.token, invalidRequestLimit: 10, invalidRequestWindowSeconds: 3))
        rest.carryOver(invalidAnswersAgo: Array(repeating: .zero, count: 10))
        let manager = ShardManager(
            configuration: ShardManagerConfiguration(
                token: server.configuration.token, intents: Self.intents, count: .fixed(1),
                identifyWindow: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds)), sessionReserve: 0,
                backoffBase: 0.05, backoffCap: 0.5, namespace: Self.namespace()),
            rest: rest, coordination: .local)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("READY once the carried answers left the window") { received.readies() == 1 }
        await manager.shutdown()
        #expect(try await stopped == [0: .shutdown])
        try await server.stop()
    }

    @Test func aGatewayBotAnswerNoGatewayGivesStopsTheStartWithAReason() async throws {
        // max_concurrency 0 used to trap in the identify queue's precondition.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 2, userCount: 20, seed: 5), dispatchesPerSecond: 0, maxConcurrency: 0))
        let manager = Self.manager(server, coordination: .local, namespace: Self.namespace(), count: 2)
        await #expect {
            _ = try await manager.run { _, _ in }
        } throws: { error in
            "\(error)".contains("max_concurrency 0")
        }
        #expect(server.record.connections.isEmpty, "no shard connected")
        try await server.stop()
    }

    @Test func withoutSharedCoordinationTheSameStartBreaksDiscordsRule() async throws {
        // The control for the test above: two processes that each keep only their own queue
        // identify shards of one bucket at once.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 16, userCount: 300, seed: 91), dispatchesPerSecond: 20, maxConcurrency: 2,
            identifyWindowMilliseconds: 2_000))
        let managers = [
            Self.manager(server, coordination: .local, namespace: "a", count: 8, selection: .cluster(index: 0, of: 2)),
            Self.manager(server, coordination: .local, namespace: "b", count: 8, selection: .cluster(index: 1, of: 2)),
        ]
        try await withThrowingTaskGroup(of: Void.self) { group in
            for manager in managers {
                group.addTask { _ = try await manager.run { _, _ in } }
            }
            try await waitUntil("a violation") { server.identifyBucketViolations > 0 }
            for manager in managers { await manager.shutdown() }
            try await group.waitForAll()
        }
        #expect(server.identifyBucketViolations > 0)
        try await server.stop()
    }

    /// A reserve the day's whole budget does not exceed would refuse every identify for good: the
    /// manager says so at start instead.
    @Test func aReserveAtDiscordsDailyTotalIsRefusedAtStart() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 2, userCount: 20, seed: 93), dispatchesPerSecond: 0, identifyWindowMilliseconds: 300, sessionStartLimit: 7))
        let manager = Self.manager(server, coordination: .local, namespace: Self.namespace(), count: 1, reserve: 7)
        await #expect(throws: SessionReserveTooLarge.self) { _ = try await manager.run { _, _ in } }
        #expect(server.record.connections.isEmpty, "no shard connected")
        try await server.stop()
    }

    @Test func theBudgetGuardStopsIdentifyingAtTheReserve() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 12, userCount: 200, seed: 92), dispatchesPerSecond: 10, maxConcurrency: 6,
            identifyWindowMilliseconds: 300, sessionStartLimit: 7))
        let redis = try RedisTestServer.client()
        let manager = Self.manager(server, coordination: .redis(redis), namespace: Self.namespace(), count: 6, reserve: 3)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("4 sessions and 2 refusals") {
            let refusals = await manager.refusals
            return received.readies() == 4 && refusals == 2
        }
        try await Task.sleep(for: .milliseconds(500))
        #expect(received.readies() == 4, "no shard identifies below the reserve")
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        let remaining = try await rest.gatewayBot().sessionStartLimit.remaining
        #expect(remaining == 3, "the reserve is intact and the token was never reset")
        await manager.shutdown()
        let reasons = try await stopped
        #expect(reasons.count == 6 && reasons.values.allSatisfy { $0 == .shutdown })
        await redis.close()
        try await server.stop()
    }

    @Test func aRestartedProcessResumesEveryShardFromRedis() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 12, userCount: 300, seed: 93), dispatchesPerSecond: 300, maxConcurrency: 4,
            identifyWindowMilliseconds: 300))
        let namespace = Self.namespace()
        let before = Received()
        let redis = try RedisTestServer.client()
        let first = Self.manager(server, coordination: .redis(redis), namespace: namespace, count: 4)
        async let firstRun = first.run { before.add($0, $1) }
        try await waitUntil("traffic on every shard") { (0..<4).allSatisfy { before.of($0).count >= 60 } }
        await first.shutdown()
        _ = try await firstRun
        await redis.close()

        // A new process: its own Redis connection, nothing shared but Redis.
        let after = Received()
        let redisAgain = try RedisTestServer.client()
        let second = Self.manager(server, coordination: .redis(redisAgain), namespace: namespace, count: 4)
        async let secondRun = second.run { after.add($0, $1) }
        try await waitUntil("traffic after the restart") { (0..<4).allSatisfy { after.of($0).count >= 60 } }
        await second.shutdown()
        _ = try await secondRun

        #expect(await second.restoredSessions == [0, 1, 2, 3])
        #expect(after.readies() == 0, "nobody identified again")
        for shard in 0..<4 {
            expectContiguousSequences(before.of(shard) + after.of(shard), "shard \(shard): ")
        }
        #expect(Set(server.record.connections.compactMap { $0.sessionID }).count == 4)
        #expect(server.record.connections.filter { $0.closeCode == nil && $0.clientCloseCode != nil }.allSatisfy { $0.clientCloseCode == 4000 })
        await redisAgain.close()
        try await server.stop()
    }
}
