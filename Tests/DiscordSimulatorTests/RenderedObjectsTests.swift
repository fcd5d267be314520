import Testing
@testable import DiscordSimulator

/// The kept objects a generator reuses: each comes back byte for byte until it is forgotten, and
/// the buffer starts again empty past its limit rather than growing.
@Suite struct RenderedObjectsTests {
    static func object(_ index: Int) -> [UInt8] {
        Array("{\"n\":\(index),\"pad\":\"".utf8) + Array(repeating: UInt8(ascii: "x"), count: index * 13 % 90) + Array("\"}".utf8)
    }

    static func appended(_ index: Int, from objects: RenderedObjects) -> [UInt8]? {
        var json = JSONBytes()
        json.raw("[")
        guard objects.append(index, to: &json) else { return nil }
        #expect(json.bytes.first == UInt8(ascii: "["))
        return Array(json.bytes.dropFirst())
    }

    @Test func keptObjectsComeBackByteForByteUntilForgotten() {
        var objects = RenderedObjects(count: 100, byteLimit: 1 << 20)
        #expect(Self.appended(5, from: objects) == nil)
        for index in 0..<100 { objects.keep(index, Self.object(index)[...]) }
        for index in 0..<100 { #expect(Self.appended(index, from: objects) == Self.object(index)) }
        objects.forget(42)
        #expect(Self.appended(42, from: objects) == nil)
        #expect(Self.appended(43, from: objects) == Self.object(43))
        // Kept again after being forgotten: the new bytes, not the old.
        objects.keep(42, Array("{}".utf8)[...])
        #expect(Self.appended(42, from: objects) == Array("{}".utf8))
    }

    @Test func pastItsLimitTheBufferStartsAgainEmpty() {
        var objects = RenderedObjects(count: 1_000, byteLimit: 2_000)
        var kept: [Int] = []
        for index in 0..<1_000 {
            objects.keep(index, Self.object(index)[...])
            kept.append(index)
            // Whatever is still there is exact; what is gone is gone entirely.
            let present = kept.filter { Self.appended($0, from: objects) != nil }
            for survivor in present { #expect(Self.appended(survivor, from: objects) == Self.object(survivor)) }
            #expect(present.map { Self.object($0).count }.reduce(0, +) <= 2_000)
            kept = present
        }
        #expect(kept.contains(999))
        #expect(!kept.contains(0))
    }

    @Test func anEmptyObjectIsNotKept() {
        var objects = RenderedObjects(count: 1, byteLimit: 100)
        objects.keep(0, [][...])
        #expect(Self.appended(0, from: objects) == nil)
    }
}
