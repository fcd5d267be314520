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
}
