@testable import kamii
import Testing

/// What a gateway's event names can grow: the tally a report line and a Prometheus series each.
struct DispatchTallyTests {
    @Test func eventNamesAreCountedApart() {
        let tally = DispatchTally()
        let shard = tally.shard(0)
        for name in ["MESSAGE_CREATE", "MESSAGE_CREATE", "GUILD_MEMBER_ADD"] { shard.count(name) }
        tally.shard(1).count("MESSAGE_CREATE")
        #expect(tally.byName == ["MESSAGE_CREATE": 3, "GUILD_MEMBER_ADD": 1])
        #expect(tally.total == 4)
        #expect(tally.summary == "MESSAGE_CREATE=3 GUILD_MEMBER_ADD=1")
    }

    @Test func aNewNamePerEventGrowsNothingPastTheLimit() {
        let tally = DispatchTally()
        let shard = tally.shard(0)
        for number in 0..<10_000 { shard.count("EVENT_\(number)") }
        let byName = tally.byName
        #expect(byName.count == DispatchTally.maxNames)
        #expect(byName[DispatchTally.otherName] == 10_000 - (DispatchTally.maxNames - 1))
        #expect(tally.total == 10_000)
        // A name counted before the limit still counts as itself.
        shard.count("EVENT_0")
        #expect(tally.byName["EVENT_0"] == 2)
    }

    @Test(arguments: ["", "message_create", "MESSAGE CREATE", "A\nINFO forged line", "\u{1B}[2JCLEAR", String(repeating: "A", count: 65), "É"])
    func aNameNotShapedLikeAnEventsIsOther(_ name: String) {
        let tally = DispatchTally()
        tally.shard(0).count(name)
        #expect(tally.byName == [DispatchTally.otherName: 1])
    }
}
