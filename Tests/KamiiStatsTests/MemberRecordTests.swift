@testable import KamiiStats
import Testing

/// The stored form of a member's stats: what the flush script packs with Lua's `struct` must read
/// back the same here, unknown places stay unknown, and out-of-range numbers clamp instead of
/// wrapping.
struct MemberRecordTests {
    @Test func theBinaryFormRoundTrips() throws {
        let full = MemberRecord(
            xp: 1_234_567, level: 27, messages: 98_765, xpMessages: 4_321, lastXPAt: 1_764_500_000_123, karma: -17, trust: 64,
            hasAvatar: true, joinedAt: 1_700_000_000_000, isPending: false, isVerified: true)
        #expect(full.stored.count == MemberRecord.storedSize)
        #expect(MemberRecord(stored: full.stored) == full)
        let empty = MemberRecord()
        #expect(MemberRecord(stored: empty.stored) == empty, "unknown places read back unknown, not zero")
        #expect(MemberRecord(stored: MemberRecord(joinedAt: 0).stored)?.joinedAt == 0, "0 (the event did not say) is not unknown")
    }

    /// Exactly the bytes Lua's `struct.pack('<Bdhi4i4di4bbdbb', …)` makes (checked against Redis
    /// in `StatsFlusherTests`): little-endian, no padding.
    @Test func theLayoutIsLuaStructs() {
        let stored = MemberRecord(xp: 1, level: 2, messages: 3, xpMessages: 4, karma: -1).stored
        #expect(Array(stored[0..<11]) == [1, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F, 2, 0])
        #expect(Array(stored[11..<19]) == [3, 0, 0, 0, 4, 0, 0, 0])
        #expect(Array(stored[27..<31]) == [0xFF, 0xFF, 0xFF, 0xFF])
    }

    @Test func outOfRangeNumbersClamp() {
        let huge = MemberRecord(level: 1 << 20, messages: Int(Int32.max) + 5, karma: Int(Int32.min) - 5, trust: 300)
        let read = MemberRecord(stored: huge.stored)
        #expect(read?.level == Int(Int16.max) && read?.messages == Int(Int32.max) && read?.karma == Int(Int32.min) && read?.trust == 127)
    }

    @Test func textOfEarlierVersionsStillReads() {
        #expect(MemberRecord(stored: Array("110:1:3:2:1735689661000:-4:55:0:1700000000000:1:0".utf8)) == MemberRecord(
            xp: 110, level: 1, messages: 3, xpMessages: 2, lastXPAt: 1_735_689_661_000, karma: -4, trust: 55, hasAvatar: false,
            joinedAt: 1_700_000_000_000, isPending: true, isVerified: false))
        #expect(MemberRecord(stored: Array("0:0:1:0::3:::::".utf8)) == MemberRecord(messages: 1, karma: 3))
    }

    @Test func anythingElseIsNotARecord() {
        #expect(MemberRecord(stored: Array("1200:not a record".utf8)) == nil)
        #expect(MemberRecord(stored: [UInt8](repeating: 2, count: MemberRecord.storedSize)) == nil, "an unknown version")
        #expect(MemberRecord(stored: [1, 2, 3]) == nil)
        var infinite = MemberRecord().stored
        withUnsafeBytes(of: Double.infinity.bitPattern.littleEndian) { infinite.replaceSubrange(1..<9, with: $0) }
        #expect(MemberRecord(stored: infinite) == nil)
    }
}
