import DiscordSimulator
@testable import KamiiCore
import Testing

/// The guild actor's member table against a `Dictionary` doing the same things.
struct MemberTimesTests {
    /// Inserts, updates and removals drawn at random over few keys (so runs collide, grow and shift
    /// back), snowflake-like keys and small ones, 0 included: after every step the table holds what
    /// the dictionary holds.
    @Test func agreesWithADictionaryThroughInsertsUpdatesAndRemovals() {
        var random = SeededRandom(seed: 7)
        var table = MemberTimes()
        var model: [UInt64: UInt64] = [:]
        let snowflakes = (0..<600).map { _ in UInt64.random(in: 1 << 50..<1 << 62, using: &random) }
        let keys = snowflakes + Array(0..<64)
        for step in 0..<40_000 {
            let key = keys[Int.random(in: 0..<keys.count, using: &random)]
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let value = UInt64(step)
                table[key] = value
                model[key] = value
            case 5..<8:
                #expect(table.removeValue(forKey: key) == model.removeValue(forKey: key))
            default:
                table[key] = nil
                model[key] = nil
            }
            #expect(table[key] == model[key])
            #expect(table.count == model.count)
            if step % 4_000 == 0 { expectSame(table, model) }
        }
        expectSame(table, model)
        for key in keys { #expect(table[key] == model[key]) }
    }

    /// What compaction keeps stays readable (including member 0), what it drops is gone, and the
    /// table still takes new members after.
    @Test func keepsOnlyWhatItIsToldTo() {
        var table = MemberTimes()
        var model: [UInt64: UInt64] = [:]
        for member in UInt64(0)..<2_000 {
            let key = member * 4_194_304 + 17
            table[key] = member
            model[key] = member
        }
        table[0] = 5
        model[0] = 5
        table.keepOnly { _, value in value % 3 == 2 }
        model = model.filter { $0.value % 3 == 2 }
        expectSame(table, model)
        #expect(table[0] == 5)
        table[42] = 1
        #expect(table[42] == 1)
        #expect(table.count == model.count + 1)
        table.keepOnly { _, _ in false }
        #expect(table.isEmpty)
        #expect(table[0] == nil && table[42] == nil)
    }

    private func expectSame(_ table: MemberTimes, _ model: [UInt64: UInt64], sourceLocation: SourceLocation = #_sourceLocation) {
        var seen: [UInt64: UInt64] = [:]
        table.forEach { member, value in
            #expect(seen[member] == nil, "listed twice", sourceLocation: sourceLocation)
            seen[member] = value
        }
        #expect(seen == model, sourceLocation: sourceLocation)
        #expect(table.count == model.count, sourceLocation: sourceLocation)
    }
}
