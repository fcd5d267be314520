@testable import KamiiCore
import Foundation
import Synchronization
import Testing

struct HotPathCountersTests {
    /// Counts added from many threads at once — each to its own cell, or to one it shares — all
    /// reach the totals.
    @Test func countsFromManyThreadsAddUp() async throws {
        let counters = HotPathCounters()
        let threads = 8
        let perThread = 20_000
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let finished = Atomic<Int>(0)
            for _ in 0..<threads {
                Thread.detachNewThread {
                    for index in 0..<perThread {
                        counters.local.routed.wrappingAdd(1, ordering: .relaxed)
                        counters.local.messages.wrappingAdd(1, ordering: .relaxed)
                        if index % 2 == 0 { counters.local.grants.wrappingAdd(1, ordering: .relaxed) }
                        if index % 5 == 0 { counters.local.malformed.add(1, ordering: .relaxed) }
                    }
                    if finished.add(1, ordering: .acquiringAndReleasing).newValue == threads { done.resume() }
                }
            }
        }
        #expect(counters.routed == threads * perThread)
        #expect(counters.messages == threads * perThread)
        #expect(counters.grants == threads * perThread / 2)
        #expect(counters.malformed == threads * perThread / 5)
    }
}
