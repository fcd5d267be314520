import KamiiCore
import Testing

struct StatsBufferTests {
    @Test func crossingTheThresholdWakesTheFlusherOnce() async {
        let buffer = StatsBuffer(capacity: 100, flushThreshold: 3)
        var wakeups = buffer.wakeups.makeAsyncIterator()
        buffer.record(guild: 1) { $0.countMessage(by: 5) }
        buffer.record(guild: 2) { $0.countMessage(by: 5) }
        buffer.record(guild: 1) { $0.changeKarma(of: 6, by: 1) }
        buffer.record(guild: 1) { $0.changeKarma(of: 6, by: 1) }
        buffer.finish()
        var count = 0
        while await wakeups.next() != nil { count += 1 }
        #expect(count == 1)
    }

    @Test func takingEmptiesTheBufferButTheBoundHoldsUntilAcknowledged() {
        let buffer = StatsBuffer(capacity: 100, flushThreshold: 50)
        buffer.record(guild: 1) { $0.countMessage(by: 5) }
        buffer.record(guild: 1 << 22) { $0.changeKarma(of: 6, by: -1) }
        let taken = buffer.take()
        #expect(taken[1]?.messages == [5: 1])
        #expect(taken[1 << 22]?.karma == [6: -1])
        #expect(buffer.take().isEmpty)
        #expect(buffer.unacknowledged == 2)
        buffer.acknowledge(2)
        #expect(buffer.unacknowledged == 0)
    }
}
