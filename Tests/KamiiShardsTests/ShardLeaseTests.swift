import DiscordGateway
import DiscordModels
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiRedis
import KamiiShards
import KamiiTestSupport
import Testing

/// A shard runs in one process at a time: the one holding its lease in Redis. The simulator's
/// record of identifies and sessions is the judge of what each process did.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct ShardLeaseTests {
    typealias Received = ShardManagerTests.Received

    static func manager(
        _ server: SimulatorServer, redis: RedisClient, namespace: String, count: Int, lifetime: Duration = .seconds(30),
        savesDurableSequence: Bool = false
    ) -> ShardManager {
        let rest = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        var configuration = ShardManagerConfiguration(
            token: server.configuration.token, intents: ShardManagerTests.intents, count: .fixed(count),
            identifyWindow: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds)), sessionReserve: 0,
            sessionSaveInterval: .milliseconds(200), backoffBase: 0.05, backoffCap: 0.5, namespace: namespace)
        configuration.leaseLifetime = lifetime
        configuration.leaseRetryInterval = .milliseconds(100)
        configuration.savesDurableSequence = savesDurableSequence
        return ShardManager(configuration: configuration, rest: rest, coordination: .redis(redis))
    }

    /// A simulator with `guilds` guilds (25 users each) and a 100 ms identify window.
    static func simulator(guilds: Int, seed: UInt64, dispatchesPerSecond: Int) async throws -> SimulatorServer {
        try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: guilds, userCount: guilds * 25, seed: seed), dispatchesPerSecond: dispatchesPerSecond,
            identifyWindowMilliseconds: 100))
    }

    static func sessions(_ server: SimulatorServer) -> Int { Set(server.record.connections.compactMap(\.sessionID)).count }

    /// A rolling deploy: the new process starts while the old one runs. It runs none of the old
    /// one's shards (they would take the session from each other, or both count every message)
    /// until the old one stops and lets them go; then it resumes the sessions the old one saved.
    @Test func aNewProcessWaitsForTheShardsTheOldOneRunsAndResumesThem() async throws {
        let server = try await Self.simulator(guilds: 8, seed: 95, dispatchesPerSecond: 40)
        let namespace = ShardManagerTests.namespace()
        let (redisA, redisB) = (try RedisTestServer.client(), try RedisTestServer.client())
        let (old, new) = (Self.manager(server, redis: redisA, namespace: namespace, count: 2), Self.manager(server, redis: redisB, namespace: namespace, count: 2))
        let (receivedOld, receivedNew) = (Received(), Received())
        async let oldStopped = old.run { receivedOld.add($0, $1) }
        try await waitUntil("the old process's sessions") { receivedOld.readies() == 2 }
        let told = Locked<[String]>([])
        async let newStopped = new.run(
            consumers: { shard in { receivedNew.add(shard, $0) } },
            prepare: { _, shards in told.withLock { $0.append("start \(shards.sorted())") } })
        try await waitUntil("the new process waiting for both shards") { await new.shardsWaitingForLease() == 2 }
        try await Task.sleep(for: .milliseconds(800))
        #expect(receivedNew.total == 0, "nothing received while the old process runs the shards")
        #expect(server.record.connections.count == 2, "the new process did not connect")

        await old.shutdown()
        _ = try await oldStopped
        let resumed: @Sendable () -> Int = { (0..<2).filter { shard in receivedNew.of(shard).contains { $0.name == "RESUMED" } }.count }
        try await waitUntil("the new process resuming both sessions") { resumed() == 2 }
        #expect(Self.sessions(server) == 2, "resumed, not identified again")
        let stillWaiting = await new.shardsWaitingForLease()
        #expect(stillWaiting == 0)
        #expect(receivedNew.readies() == 0)
        // Both shards taken in one round are prepared for in one call (their guilds' state read once).
        #expect(told.value == ["start []", "start [0, 1]"], "\(told.value)")
        await new.shutdown()
        _ = try await newStopped
        await redisA.close()
        await redisB.close()
        try await server.stop()
    }

    /// Another process holding a lease this one ran (it took it while this one could not renew):
    /// the shard closes, saves nothing, and resumes its session once the lease is its again.
    @Test func aShardWhoseLeaseAnotherProcessHoldsClosesAndComesBackWithIt() async throws {
        let server = try await Self.simulator(guilds: 4, seed: 96, dispatchesPerSecond: 20)
        let namespace = ShardManagerTests.namespace()
        let redis = try RedisTestServer.client()
        let manager = Self.manager(server, redis: redis, namespace: namespace, count: 1, lifetime: .seconds(4))
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("its session") { received.readies() == 1 }
        let lease = "kamii:gateway:{\(namespace)}:lease:1:0"
        let holder = try await redis.send("GET", lease).string
        #expect(holder?.split(separator: "|").count == 4, "held by this process: \(String(describing: holder))")
        try await redis.send("SET", lease, "elsewhere|pid:[1]|7|other", "PX", "5000")
        try await waitUntil("the shard closed") { await manager.readyShardCount() == 0 }
        let closedAt = server.record.connections.count
        // Its session is the other holder's to save now: this process's saves (every 200 ms) leave it.
        let session = "kamii:gateway:{\(namespace)}:session:i\(ShardManagerTests.intents.rawValue):1:0"
        try await redis.send("DEL", session)
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await redis.send("EXISTS", session).int == 0, "not saved while another process holds the lease")
        try await waitUntil("the shard back with its lease", timeout: .seconds(15)) { await manager.readyShardCount() == 1 }
        #expect(received.of(0).contains { $0.name == "RESUMED" }, "its session resumed")
        #expect(Self.sessions(server) == 1 && server.record.connections.count == closedAt + 1)
        #expect(try await redis.send("GET", lease).string != "elsewhere|pid:[1]|7|other")
        await manager.shutdown()
        _ = try await stopped
        #expect(try await redis.send("EXISTS", lease).int == 0, "given back at the end")
        await redis.close()
        try await server.stop()
    }

    /// Redis away for longer than a lease lives: this process cannot know that no other one took
    /// its shards, so it closes them before their leases expire, and resumes them once Redis is back
    /// from the last dispatch it delivered — not from the last durable one, which would deliver
    /// again what its consumer still holds (here nothing is ever marked durable).
    @Test func aProcessThatCannotRenewItsLeasesClosesItsShardsInTime() async throws {
        let server = try await Self.simulator(guilds: 4, seed: 97, dispatchesPerSecond: 20)
        let redisServer = try RedisProcess()
        let redis = RedisClient(configuration: redisServer.configuration)
        let namespace = ShardManagerTests.namespace()
        let manager = Self.manager(server, redis: redis, namespace: namespace, count: 1, lifetime: .seconds(6), savesDurableSequence: true)
        let received = Received()
        // What the consumer is told: the shards it starts with, each taken again, each lost.
        let told = Locked<[String]>([])
        async let stopped = manager.run(
            consumers: { shard in { received.add(shard, $0) } },
            prepare: { _, shards in told.withLock { $0.append("start \(shards.sorted())") } },
            released: { shards in told.withLock { $0.append("lost \(shards.sorted())") } })
        try await waitUntil("its session") { received.readies() == 1 }
        // The lease expires at the latest this long after it is read (Redis then stops at once).
        let lease = "kamii:gateway:{\(namespace)}:lease:1:0"
        let left = try #require(try await redis.send("PTTL", lease).int)
        let readAt = ContinuousClock.now
        redisServer.stop()
        try await waitUntil("the shard closed") { await manager.readyShardCount() == 0 }
        let closedAfter = ContinuousClock.now - readAt
        #expect(left > 0 && closedAfter < .milliseconds(left), "closed \(closedAfter) after the lease had \(left) ms left")
        try redisServer.start()
        try await waitUntil("the shard back once Redis is", timeout: .seconds(20)) { await manager.readyShardCount() == 1 }
        #expect(received.of(0).contains { $0.name == "RESUMED" } && Self.sessions(server) == 1, "its session resumed")
        let sequences = received.of(0).compactMap(\.sequence)
        #expect(sequences.count > 10 && zip(sequences, sequences.dropFirst()).allSatisfy { $0 < $1 }, "each dispatch delivered once")
        // Its guilds were this process's again once it held the lease again (level-ups, thread maps).
        #expect(told.value == ["start [0]", "lost [0]", "start [0]"], "\(told.value)")
        await manager.shutdown()
        _ = try await stopped
        await redis.close()
        try await server.stop()
    }

    /// A process that crashed on this machine holds leases no one renews: a process started after
    /// it sees that it is gone and takes them at once, rather than after they expire. One that may
    /// be alive is waited for: a live process of this machine, or one of another machine that has
    /// this one's host name (a cloned machine: told apart by its boot).
    @Test func leasesOfAProcessGoneFromThisMachineAreTakenAtOnce() async throws {
        let server = try await Self.simulator(guilds: 4, seed: 98, dispatchesPerSecond: 0)
        let namespace = ShardManagerTests.namespace()
        let redis = try RedisTestServer.client()
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        // This machine's name, boot and PID namespace, as a keeper writes them.
        let here = ShardLeaseKeeper(redis: redis, namespace: namespace, shardCount: 3).holderName.split(separator: "|")
        try #require(here.count == 4 && !here[1].isEmpty, "needs /proc/sys/kernel/random/boot_id and /proc/self/ns/pid")
        let keys = (0..<3).map { "kamii:gateway:{\(namespace)}:lease:3:\($0)" }
        try await redis.send("SET", keys[0], "\(here[0])|\(here[1])|\(gone.processIdentifier)|crashed", "PX", "60000")
        try await redis.send("SET", keys[1], "\(here[0])|another-boot/pid:[4026531836]|\(gone.processIdentifier)|cloned", "PX", "60000")
        try await redis.send("SET", keys[2], "\(here[0])|\(here[1])|\(getppid())|alive", "PX", "60000")
        let manager = Self.manager(server, redis: redis, namespace: namespace, count: 3)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("shard 0's session", timeout: .seconds(10)) { received.of(0).contains { $0.name == "READY" } }
        try await Task.sleep(for: .milliseconds(500))
        let waiting = await manager.shardsWaitingForLease()
        #expect(received.of(1).isEmpty && received.of(2).isEmpty && waiting == 2, "shards 1 and 2 wait for holders that may be alive")
        try await redis.send("DEL", keys[1], keys[2])
        try await waitUntil("shards 1 and 2 once their holders let them go", timeout: .seconds(10)) {
            received.of(1).contains { $0.name == "READY" } && received.of(2).contains { $0.name == "READY" }
        }
        await manager.shutdown()
        _ = try await stopped
        await redis.close()
        try await server.stop()
    }

    /// Processes still running by another shard count (a deploy after Discord's recommendation
    /// changed): none of this count's shards start until theirs have stopped, or a guild would be
    /// in two sessions.
    @Test func noShardStartsWhileProcessesOfAnotherCountRun() async throws {
        let server = try await Self.simulator(guilds: 4, seed: 99, dispatchesPerSecond: 0)
        let namespace = ShardManagerTests.namespace()
        let redis = try RedisTestServer.client()
        let count = "kamii:gateway:{\(namespace)}:lease-count"
        try await redis.send("SET", count, "3", "PX", "60000")
        let manager = Self.manager(server, redis: redis, namespace: namespace, count: 2)
        let received = Received()
        async let stopped = manager.run { received.add($0, $1) }
        try await waitUntil("both shards waiting") { await manager.shardsWaitingForLease() == 2 }
        try await Task.sleep(for: .milliseconds(500))
        #expect(received.total == 0 && server.record.connections.isEmpty)
        try await redis.send("DEL", count)
        try await waitUntil("both sessions once the other count is gone", timeout: .seconds(10)) { received.readies() == 2 }
        #expect(try await redis.send("GET", count).string == "2")
        await manager.shutdown()
        _ = try await stopped
        await redis.close()
        try await server.stop()
    }
}
