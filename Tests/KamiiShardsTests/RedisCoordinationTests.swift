import DiscordGateway
import DiscordREST
import Foundation
import KamiiRedis
import KamiiShards
import KamiiTestSupport
import Synchronization
import Testing

/// The identify queue, the session budget and the session store against the real redis-server,
/// each "process" with its own connection.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RedisCoordinationTests {
    static func namespace() -> String { "test-\(UInt64.random(in: 0...UInt64.max))" }

    @Test func twoProcessesNeverShareABucketWindow() async throws {
        let namespace = Self.namespace()
        let window = Duration.milliseconds(300)
        let (redisA, redisB) = (try RedisTestServer.client(), try RedisTestServer.client())
        let queues = [
            RedisIdentifyQueue(redis: redisA, namespace: namespace, maxConcurrency: 2, window: window),
            RedisIdentifyQueue(redis: redisB, namespace: namespace, maxConcurrency: 2, window: window),
        ]
        // (shard, acquired, sent) per identify.
        let log = Locked<[(shard: Int, acquired: ContinuousClock.Instant, sent: ContinuousClock.Instant)]>([])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for shard in 0..<8 {
                // Shards of both buckets in both processes.
                let queue = queues[shard % 4 < 2 ? 0 : 1]
                group.addTask {
                    try await queue.waitForTurn(shard: shard)
                    let acquired = ContinuousClock.now
                    try await Task.sleep(for: .milliseconds(Int.random(in: 0...40)))
                    let sent = ContinuousClock.now
                    await queue.identifySent(shard: shard)
                    log.withLock { $0.append((shard, acquired, sent)) }
                }
            }
            try await group.waitForAll()
        }
        for bucket in 0..<2 {
            let turns = log.withLock { $0 }.filter { $0.shard % 2 == bucket }.sorted { $0.acquired < $1.acquired }
            #expect(turns.count == 4)
            for (earlier, later) in zip(turns, turns.dropFirst()) {
                #expect(later.acquired - earlier.sent >= window, "bucket \(bucket): shard \(later.shard) went \(later.acquired - earlier.sent) after shard \(earlier.shard)")
            }
        }
        let lost = (await queues[0].lostLeases, await queues[1].lostLeases)
        #expect(lost == (0, 0))
        await redisA.close()
        await redisB.close()
    }

    @Test func aProcessThatDiesMidIdentifyHoldsTheBucketForTwoWindowsAtMost() async throws {
        let namespace = Self.namespace()
        let window = Duration.milliseconds(400)
        let (redisA, redisB) = (try RedisTestServer.client(), try RedisTestServer.client())
        let dying = RedisIdentifyQueue(redis: redisA, namespace: namespace, maxConcurrency: 1, window: window)
        let survivor = RedisIdentifyQueue(redis: redisB, namespace: namespace, maxConcurrency: 1, window: window)
        try await dying.waitForTurn(shard: 0)
        let taken = ContinuousClock.now
        await redisA.close()  // never sends its identify, never pins the lease
        try await survivor.waitForTurn(shard: 1)
        let waited = ContinuousClock.now - taken
        #expect(waited >= window * 2, "the lease held for its two windows")
        #expect(waited < window * 10, "and then expired on its own")
        await redisB.close()
    }

    @Test func withoutRedisAShardWaitsRatherThanIdentifyingUncoordinated() async throws {
        let unreachable = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .milliseconds(100)))
        let queue = RedisIdentifyQueue(redis: unreachable, namespace: Self.namespace(), maxConcurrency: 1)
        let returned = Locked(false)
        let waiting = Task {
            try await queue.waitForTurn(shard: 0)
            returned.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(600))
        #expect(!returned.withLock { $0 })
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
    }

    @Test func theSessionBudgetIsSharedAndKeepsItsReserve() async throws {
        let namespace = Self.namespace()
        let fetches = Locked(0)
        let fetch: @Sendable () async throws -> GatewayBot.SessionStartLimit = {
            fetches.withLock { $0 += 1 }
            return .init(total: 1_000, remaining: 10, resetAfter: 60_000, maxConcurrency: 1)
        }
        let (redisA, redisB) = (try RedisTestServer.client(), try RedisTestServer.client())
        let budgets = [
            RedisSessionBudget(redis: redisA, namespace: namespace, reserve: 4, fetch: fetch),
            RedisSessionBudget(redis: redisB, namespace: namespace, reserve: 4, fetch: fetch),
        ]
        let outcomes = try await withThrowingTaskGroup(of: IdentifyRefused?.self) { group in
            for shard in 0..<20 {
                group.addTask {
                    do {
                        try await budgets[shard % 2].spend(shard: shard)
                        return nil
                    } catch let refused as IdentifyRefused {
                        return refused
                    }
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == nil }.count == 6, "10 left, 4 kept in reserve")
        let refusals = outcomes.compactMap { $0 }
        #expect(refusals.count == 14)
        #expect(refusals.allSatisfy { ($0.retryAfter ?? .zero) > .seconds(50) && $0.reason.contains("reserve") })
        #expect(fetches.withLock { $0 } <= 2, "Discord is asked once per reset, not per identify")
        await redisA.close()
        await redisB.close()
    }

    @Test func aStartWhoseIdentifyWasNeverWrittenIsGivenBack() async throws {
        let budget = LocalSessionBudget(reserve: 0, initial: .init(total: 10, remaining: 2, resetAfter: 60_000, maxConcurrency: 1)) {
            throw CancellationError()
        }
        // Another shard holds the only bucket: shard 0 spends its start, then waits in the queue.
        let queue = LocalIdentifyQueue(maxConcurrency: 1, window: .seconds(5))
        try await queue.waitForTurn(shard: 9)
        let gate = StartupIdentifyGate(queue: queue, budget: budget, maxConcurrency: 1, firstIdentifies: [])
        let waiting = Task { try await gate.waitForTurn(shard: 0) }
        try await waitUntil("the start spent") { await budget.startsLeft == 1 }
        waiting.cancel()
        await #expect(throws: CancellationError.self) { try await waiting.value }
        #expect(await budget.startsLeft == 2, "the wait ended before the identify: Discord never counted it")

        // A turn given but not used (the connection ended meanwhile) is given back too; a used one is not.
        let free = StartupIdentifyGate(
            queue: LocalIdentifyQueue(maxConcurrency: 1, window: .milliseconds(10)), budget: budget, maxConcurrency: 1, firstIdentifies: [])
        try await free.waitForTurn(shard: 1)
        await free.identifyNotSent(shard: 1)
        #expect(await budget.startsLeft == 2)
        try await free.waitForTurn(shard: 1)
        await free.identifySent(shard: 1)
        #expect(await budget.startsLeft == 1)
    }

    @Test func theSharedBudgetTakesBackAnUnusedStart() async throws {
        let redis = try RedisTestServer.client()
        let budget = RedisSessionBudget(redis: redis, namespace: Self.namespace(), reserve: 0) {
            .init(total: 10, remaining: 1, resetAfter: 60_000, maxConcurrency: 1)
        }
        try await budget.spend(shard: 0)
        await #expect(throws: IdentifyRefused.self) { try await budget.spend(shard: 1) }
        await budget.refund(shard: 0)
        try await budget.spend(shard: 1)
        await #expect(throws: IdentifyRefused.self) { try await budget.spend(shard: 2) }
        await redis.close()
    }

    /// A take whose answer was lost — Redis busier than the command timeout, so the client gave up
    /// while the script still ran later — is not taken again by the shard's next take, which finds
    /// it; a take after that one takes a start of its own.
    @Test func aTakeWhoseAnswerWasLostIsNotTakenTwice() async throws {
        let namespace = Self.namespace()
        let key = "kamii:gateway:{\(namespace)}:session-budget"
        // A server of its own: the test holds it busy.
        let server = try RedisProcess()
        var quick = server.configuration
        quick.commandTimeout = .milliseconds(150)
        let (blocker, impatient) = (RedisClient(configuration: server.configuration), RedisClient(configuration: quick))
        let budget = RedisSessionBudget(redis: impatient, namespace: namespace, reserve: 0) {
            .init(total: 10, remaining: 5, resetAfter: 60_000, maxConcurrency: 1)
        }
        try await budget.spend(shard: 1)
        #expect(try await blocker.send("GET", key).string == "4")
        // Redis runs a script of 1.5 s (under the 2 s timeout of `blocker`): shard 0's take waits behind it, past its client's timeout.
        async let busy = blocker.send("EVAL", """
            local t = redis.call('TIME') local start = t[1] * 1000000 + t[2]
            repeat local now = redis.call('TIME') until now[1] * 1000000 + now[2] - start > 1500000
            return 1
            """, "0")
        try await Task.sleep(for: .milliseconds(300))
        await #expect(throws: RedisError.timeout) { try await budget.spend(shard: 0) }
        _ = try await busy
        var left = try await blocker.send("GET", key).string
        for _ in 0..<40 where left != "3" {
            try await Task.sleep(for: .milliseconds(25))
            left = try await blocker.send("GET", key).string
        }
        #expect(left == "3", "the take ran once Redis was free, its answer lost")
        try await budget.spend(shard: 0)
        #expect(try await blocker.send("GET", key).string == "3", "the lost take's start, not a second one")
        try await budget.spend(shard: 0)
        #expect(try await blocker.send("GET", key).string == "2", "a new take takes its own")
        await blocker.close()
        await impatient.close()
    }

    /// A start spent from a budget that has since reset (and been read again) is not given back
    /// to the new one, which never counted it.
    @Test func aStartIsGivenBackOnlyToTheBudgetItCameFrom() async throws {
        let redis = try RedisTestServer.client()
        let namespace = Self.namespace()
        let budget = RedisSessionBudget(redis: redis, namespace: namespace, reserve: 0) {
            .init(total: 10, remaining: 5, resetAfter: 60_000, maxConcurrency: 1)
        }
        let key = "kamii:gateway:{\(namespace)}:session-budget"
        try await budget.spend(shard: 0)
        try await budget.spend(shard: 1)
        #expect(try await redis.send("GET", key).string == "3")
        // Discord's budget resets: the next spend reads it again (5), and takes one.
        _ = try await redis.send("DEL", key)
        try await budget.spend(shard: 2)
        #expect(try await redis.send("GET", key).string == "4")
        await budget.refund(shard: 0)
        #expect(try await redis.send("GET", key).string == "4", "spent from the budget before the reset")
        await budget.refund(shard: 2)
        #expect(try await redis.send("GET", key).string == "5")
        await redis.close()
    }

    @Test func theLocalBudgetAsksDiscordAgainAfterItsReset() async throws {
        let answers = Locked([3, 5])
        let budget = LocalSessionBudget(reserve: 1) {
            .init(total: 1_000, remaining: answers.withLock { $0.removeFirst() }, resetAfter: 3_000, maxConcurrency: 1)
        }
        // Three seconds: the first three spends fall within the first answer's reset however
        // loaded the machine running the suites in parallel.
        try await budget.spend(shard: 0)
        try await budget.spend(shard: 1)
        await #expect(throws: IdentifyRefused.self) { try await budget.spend(shard: 2) }
        // The reset time passes: the next spend reads Discord's new budget.
        try await Task.sleep(for: .milliseconds(3_100))
        try await budget.spend(shard: 2)
        #expect(answers.withLock { $0.isEmpty })
    }

    @Test func sessionsAreSavedPerShardCountAndExpire() async throws {
        let redis = try RedisTestServer.client()
        let namespace = Self.namespace()
        let store = RedisShardSessionStore(redis: redis, namespace: namespace, freshness: .seconds(60))
        let first = SavedSession(sessionID: "abc123", sequence: 42, resumeURL: "ws://127.0.0.1:9000")
        try await store.save([0: first, 1: SavedSession(sessionID: "def", sequence: 0, resumeURL: "wss://gateway.example")], shardCount: 4)
        #expect(try await store.load(shards: [0, 1, 2], shardCount: 4) == [
            0: first, 1: SavedSession(sessionID: "def", sequence: 0, resumeURL: "wss://gateway.example"),
        ])
        #expect(try await store.load(shards: [0, 1], shardCount: 8).isEmpty, "another shard count is another bot layout")
        try await store.save([1: SavedSession?.none], shardCount: 4)
        #expect(try await store.load(shards: [0, 1], shardCount: 4).keys.sorted() == [0])
        // Garbage under a session key is ignored, not trusted.
        _ = try await redis.send("SET", "kamii:gateway:{\(namespace)}:session:i0:4:3", "v1 notanumber x ws://h")
        #expect(try await store.load(shards: [3], shardCount: 4).isEmpty)
        // A session identified with other intents keeps them when resumed: it is not offered.
        let otherIntents = RedisShardSessionStore(redis: redis, namespace: namespace, intents: 513, freshness: .seconds(60))
        #expect(try await otherIntents.load(shards: [0], shardCount: 4).isEmpty)
        // Expiry with a short-lived store of its own: the checks above, run on a loaded machine,
        // must not outlast the sessions they read.
        let shortLived = RedisShardSessionStore(redis: redis, namespace: namespace, freshness: .milliseconds(300))
        try await shortLived.save([0: first], shardCount: 4)
        try await Task.sleep(for: .milliseconds(700))
        #expect(try await shortLived.load(shards: [0], shardCount: 4).isEmpty, "a stale session is not resumed")
        await redis.close()
    }

    /// Two writers (the periodic save, the stats flusher's) may finish in either order: a session's
    /// later point is never replaced by an earlier one, while a new session replaces the old.
    @Test func aSavedSessionNeverGoesBack() async throws {
        let redis = try RedisTestServer.client()
        let store = RedisShardSessionStore(redis: redis, namespace: Self.namespace())
        let url = "ws://127.0.0.1:9000"
        try await store.save([0: SavedSession(sessionID: "s1", sequence: 500, resumeURL: url)], shardCount: 1)
        try await store.save([0: SavedSession(sessionID: "s1", sequence: 400, resumeURL: url)], shardCount: 1)
        #expect(try await store.load(shards: [0], shardCount: 1)[0]?.sequence == 500)
        try await store.save([0: SavedSession(sessionID: "s2", sequence: 3, resumeURL: url)], shardCount: 1)
        #expect(try await store.load(shards: [0], shardCount: 1)[0] == SavedSession(sessionID: "s2", sequence: 3, resumeURL: url))
        await redis.close()
    }
}
