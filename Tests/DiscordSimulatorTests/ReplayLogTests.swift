import Testing
@testable import DiscordSimulator

/// What a resume can replay: the latest dispatches, byte for byte, within the count and byte
/// bounds, across chunk boundaries.
@Suite struct ReplayLogTests {
    /// A payload whose bytes say which dispatch it is, of a length that varies.
    static func payload(_ sequence: Int) -> [UInt8] {
        Array("{\"s\":\(sequence),\"pad\":\"".utf8) + Array(repeating: UInt8(ascii: "x"), count: sequence * 37 % 500) + Array("\"}".utf8)
    }

    static func keep(_ sequence: Int, in log: inout ReplayLog) -> [UInt8] {
        let payload = payload(sequence)
        return log.append(sequence: sequence, atMost: payload.count + 10, write: { $0 += payload }, use: { Array($0) })
    }

    @Test func keepsEveryPayloadExactlyAcrossChunks() {
        var log = ReplayLog(countLimit: 10_000, byteLimit: 1 << 30, chunkSize: 4_096)
        for sequence in 1...2_000 {
            #expect(Self.keep(sequence, in: &log) == Self.payload(sequence))
        }
        #expect(log.count == 2_000)
        #expect(log.oldestSequence == 1)
        #expect(log.payloads(after: 1_990) == (1_991...2_000).map(Self.payload))
        #expect(log.payloads(after: 0).count == 2_000)
        #expect(log.payloads(after: 2_000).isEmpty)
    }

    @Test func forgetsTheOldestPastTheCountLimit() {
        var log = ReplayLog(countLimit: 100, byteLimit: 1 << 30, chunkSize: 4_096)
        for sequence in 1...1_000 { _ = Self.keep(sequence, in: &log) }
        // Trimmed a tenth at a time: between the limit and a tenth over it.
        #expect((100...110).contains(log.count))
        let oldest = try! #require(log.oldestSequence)
        #expect(oldest == 1_001 - log.count)
        #expect(log.payloads(after: oldest - 1) == (oldest...1_000).map(Self.payload))
    }

    @Test func forgetsWholeChunksPastTheByteLimit() {
        var log = ReplayLog(countLimit: 100_000, byteLimit: 16_384, chunkSize: 4_096)
        for sequence in 1...1_000 { _ = Self.keep(sequence, in: &log) }
        let kept = log.payloads(after: 0)
        #expect(kept.reduce(0) { $0 + $1.count } <= 16_384 + 4_096)
        #expect(kept.count == log.count)
        #expect(kept.last == Self.payload(1_000))
        let oldest = try! #require(log.oldestSequence)
        #expect(kept == (oldest...1_000).map(Self.payload))
    }

    /// A payload bigger than a chunk (a GUILD_CREATE of a huge guild) gets a chunk of its own.
    @Test func keepsAPayloadLargerThanAChunk() {
        var log = ReplayLog(countLimit: 100, byteLimit: 1 << 20, chunkSize: 1_024)
        let big = [UInt8](repeating: 7, count: 50_000)
        _ = Self.keep(1, in: &log)
        #expect(log.append(sequence: 2, atMost: big.count, write: { $0 += big }, use: { $0.count }) == 50_000)
        _ = Self.keep(3, in: &log)
        #expect(log.payloads(after: 0) == [Self.payload(1), big, Self.payload(3)])
        log.removeAll()
        #expect(log.count == 0)
        #expect(log.oldestSequence == nil)
    }
}
