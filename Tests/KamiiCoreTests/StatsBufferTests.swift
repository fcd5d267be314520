import KamiiCore
import KamiiTestSupport
import Synchronization
import Testing

struct StatsBufferTests {
    @Test func crossingTheThresholdWakesTheFlusherOnce() async {
        let buffer = StatsBuffer(capacity: 100, flushThreshold: 3)
        var wakeups = buffer.wakeups.makeAsyncIterator()
        buffer.record(guild: 1) { $0.countMessage(by: 5) }
        buffer.record(guild: 2) { $0.countMessage(by: 5) }
        buffer.record(guild: 1) { $0.giveKarma(to: 6) }
        buffer.record(guild: 1) { $0.giveKarma(to: 6) }
        buffer.finish()
        var count = 0
        while await wakeups.next() != nil { count += 1 }
        #expect(count == 1)
    }

    @Test func takingEmptiesTheBufferButTheBoundHoldsUntilAcknowledged() {
        let buffer = StatsBuffer(capacity: 100, flushThreshold: 50)
        buffer.record(guild: 1) { $0.countMessage(by: 5) }
        let removal = GuildStatsBatch.KarmaReaction(message: 500, giver: 7, emoji: 1, receiver: nil)
        buffer.record(guild: 1 << 22) { $0.record(removal) }
        let taken = buffer.take()
        #expect(taken[1]?.messages == [5: 1])
        #expect(taken[1 << 22]?.karmaReactions == [removal])
        #expect(buffer.take().isEmpty)
        #expect(buffer.unacknowledged == 2)
        buffer.acknowledge(2)
        #expect(buffer.unacknowledged == 0)
    }

    /// Takes racing with recorders on several shards: every take claims, per shard, exactly the
    /// dispatches whose changes it holds — the ones after the previous take's position, up to its
    /// own — never one more, never one fewer.
    @Test func aTakeClaimsExactlyTheDispatchesItHolds() async {
        let buffer = StatsBuffer(capacity: 10_000_000, flushThreshold: 10_000_000)
        let shards = 3
        let dispatches = 20_000
        let taking = Atomic<Bool>(true)
        // Takes made so far: each recorder waits for one more take every 2,000 dispatches, so the
        // takes interleave with recording however the tasks are scheduled.
        let takesMade = TakesMade()
        await withTaskGroup(of: Void.self) { group in
            for shard in 0..<shards {
                group.addTask {
                    let lane = buffer.lane(for: shard)
                    // A dispatch of shard s with sequence n counts a message by user n * 8 + s,
                    // in one of 40 guilds.
                    let slots = (0..<40).map { buffer.slot(for: UInt64($0 * 8 + shard)) }
                    for sequence in 1...dispatches {
                        lane.advance(to: ShardPosition(session: 1, sequence: sequence)) {
                            buffer.record(in: slots[sequence % slots.count]) { $0.countMessage(by: UInt64(sequence * 8 + shard)) }
                        }
                        if sequence % 64 == 0 { await Task.yield() }
                        while sequence % 2_000 == 0, takesMade.count.load(ordering: .relaxed) < sequence / 2_000 { await Task.yield() }
                    }
                }
            }
            var claimed = [Int](repeating: 0, count: shards)
            var takes = 0
            var mismatches: [String] = []
            while taking.load(ordering: .relaxed) {
                let (batches, positions, _) = buffer.takeClaiming()
                takes += 1
                takesMade.count.store(takes, ordering: .relaxed)
                var held = [[Int]](repeating: [], count: shards)
                for batch in batches.values {
                    for (user, count) in batch.messages {
                        #expect(count == 1)
                        held[Int(user % 8)].append(Int(user / 8))
                    }
                }
                for shard in 0..<shards {
                    let reached = positions[shard]?.sequence ?? 0
                    let expected = reached > claimed[shard] ? Array(claimed[shard] + 1...reached) : []
                    if held[shard].sorted() != expected { mismatches.append("shard \(shard), take \(takes)") }
                    claimed[shard] = reached
                }
                if claimed.allSatisfy({ $0 == dispatches }) { taking.store(false, ordering: .relaxed) }
                await Task.yield()
            }
            #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
            #expect(takes > 2, "the takes raced with the recorders")
        }
    }
}

/// How many takes a racing test has made, shared with its recording tasks.
private final class TakesMade: Sendable {
    let count = Atomic<Int>(0)
}
