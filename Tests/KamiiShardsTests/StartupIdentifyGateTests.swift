import DiscordGateway
import KamiiShards
import Synchronization
import Testing

/// Shards that must identify again after start-up (sessions invalidated, shards restarted) queue
/// per bucket behind each other: only the head of a bucket asks the queue — with the Redis queue,
/// each waiter asking would be a script every few milliseconds per shard.
struct StartupIdentifyGateTests {
    /// A queue that counts who is asking it at once, and holds each for a moment.
    final class CountingQueue: IdentifyGate {
        let asking = Mutex((now: 0, most: 0, served: [Int]()))

        func waitForTurn(shard: Int) async throws {
            asking.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
            try await Task.sleep(for: .milliseconds(20))
            asking.withLock { $0.now -= 1; $0.served.append(shard) }
        }
    }

    @Test func laterIdentifiesOfABucketAskTheQueueOneAtATime() async throws {
        let queue = CountingQueue()
        let gate = StartupIdentifyGate(queue: queue, budget: nil, maxConcurrency: 2, firstIdentifies: [])
        // Shards 0, 2, 4, 6, 8 share bucket 0; 1, 3, 5 bucket 1.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for shard in 0..<9 { group.addTask { try await gate.waitForTurn(shard: shard) } }
            try await group.waitForAll()
        }
        let (most, served) = queue.asking.withLock { ($0.most, $0.served) }
        #expect(served.sorted() == Array(0..<9), "every shard had its turn")
        #expect(most <= 2, "one asker per bucket at a time, not one per shard: \(most)")
    }

    /// A budget that cannot be read (Redis away) `failures` times, then takes every start.
    final class UnreadableBudget: SessionBudget {
        let failures: Mutex<Int>
        init(failures: Int) { self.failures = Mutex(failures) }
        func spend(shard: Int) async throws {
            let failing = failures.withLock { left -> Bool in
                guard left > 0 else { return false }
                left -= 1
                return true
            }
            if failing { throw RedisAway() }
        }
        func refund(shard: Int) async {}
        struct RedisAway: Error {}
    }

    /// A budget that cannot be read for a while holds the shard at the gate, on its open
    /// connection, and asks again — it neither refuses (which made every waiting shard connect to
    /// Discord again every few seconds while Redis was away) nor guesses.
    @Test func aBudgetThatCannotBeReadIsAskedAgainNotRefused() async throws {
        let queue = CountingQueue()
        let gate = StartupIdentifyGate(
            queue: queue, budget: UnreadableBudget(failures: 3), maxConcurrency: 1, firstIdentifies: [0], budgetRetryDelay: .milliseconds(10))
        try await gate.waitForTurn(shard: 0)
        #expect(queue.asking.withLock { $0.served } == [0])
        // A refusal of the budget (its reserve reached) is still a refusal.
        struct AtReserve: SessionBudget {
            func spend(shard: Int) async throws { throw IdentifyRefused(reason: "reserve", retryAfter: .seconds(60)) }
            func refund(shard: Int) async {}
        }
        let refusing = StartupIdentifyGate(queue: queue, budget: AtReserve(), maxConcurrency: 1, firstIdentifies: [], budgetRetryDelay: .milliseconds(10))
        await #expect(throws: IdentifyRefused.self) { try await refusing.waitForTurn(shard: 1) }
    }

    /// A shard waiting for a budget that cannot be read stops waiting when its connection ends
    /// (the wait is cancelled).
    @Test func aWaitForAnUnreadableBudgetEndsWithItsConnection() async throws {
        let gate = StartupIdentifyGate(
            queue: CountingQueue(), budget: UnreadableBudget(failures: .max), maxConcurrency: 1, firstIdentifies: [], budgetRetryDelay: .milliseconds(10))
        let waiter = Task { try await gate.waitForTurn(shard: 0) }
        try await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
    }
}
