import Testing
@testable import DiscordGateway

/// Deflate blocks written bit by bit to break one rule each — what no compressor writes and a
/// hostile or broken sender might: each is refused with its own reason, the stream poisoned, never
/// a crash or a read out of bounds.
@Suite struct DeflateCraftedInputTests {
    /// Bits as deflate packs them: values from their lowest bit, Huffman codes from their highest.
    struct Bits {
        private(set) var bytes: [UInt8] = [0x78, 0x01]  // a zlib header: deflate, 32 KiB window
        private var used = 8  // bits used of the last byte

        mutating func value(_ value: UInt32, bits count: Int) {
            for bit in 0..<count { append(value >> bit & 1) }
        }

        mutating func code(_ code: UInt32, bits count: Int) {
            for bit in (0..<count).reversed() { append(code >> bit & 1) }
        }

        mutating func alignedBytes(_ more: [UInt8]) {
            used = 8
            bytes += more
        }

        /// An empty stored block and its `00 00 FF FF`: the end of a message, as a sync flush writes it.
        mutating func syncFlush() {
            value(0, bits: 3)
            alignedBytes([0x00, 0x00, 0xFF, 0xFF])
        }

        private mutating func append(_ bit: UInt32) {
            if used == 8 {
                bytes.append(0)
                used = 0
            }
            bytes[bytes.count - 1] |= UInt8(bit) << used
            used += 1
        }
    }

    /// `bits`, ended as a message is, refused as corrupt data for `reason`.
    func expectRefused(_ bits: Bits, _ reason: String) throws {
        var bits = bits
        bits.syncFlush()
        let error = try refusal(bits)
        #expect(error?.kind == .corruptData && error?.detail == reason)
    }

    func refusal(_ bits: Bits) throws -> InflateError? {
        let inflater = ZlibStreamInflater()
        let error = #expect(throws: InflateError.self) { try inflater.inflate(bits.bytes) }
        // Poisoned until reset: a good message is refused too.
        var good = Bits()
        good.syncFlush()
        #expect(throws: InflateError.self) { try inflater.inflate(good.bytes) }
        inflater.reset()
        #expect(try Self.inflated(Self.fixedLiteral(), by: inflater) == Array("a".utf8))
        return error
    }

    /// The payload copied out while its inflater lives (it points into the inflater's memory).
    static func inflated(_ bits: Bits, by inflater: ZlibStreamInflater) throws -> [UInt8]? {
        try withExtendedLifetime(inflater) { try inflater.inflate(bits.bytes).map(Array.init) }
    }

    /// A fixed-Huffman block holding the literal `a`: the writer's own check.
    static func fixedLiteral() -> Bits {
        var bits = Bits()
        bits.value(0, bits: 1)  // not final
        bits.value(1, bits: 2)  // fixed codes
        bits.code(0x30 + 0x61, bits: 8)  // literals 0–143: 00110000 + value
        bits.code(0, bits: 7)  // end of block (256)
        bits.syncFlush()
        return bits
    }

    @Test func theWriterWritesWhatTheDecoderReads() throws {
        #expect(try Self.inflated(Self.fixedLiteral(), by: ZlibStreamInflater()) == Array("a".utf8))
    }

    @Test func aStoredBlockWhoseLengthsDisagree() throws {
        var bits = Bits()
        bits.value(0, bits: 3)
        bits.alignedBytes([0x05, 0x00, 0x00, 0x00] + Array("hello".utf8))  // NLEN should be FA FF
        try expectRefused(bits, "invalid stored block lengths")
    }

    @Test func aMatchReachingBeforeTheStreamsStart() throws {
        var bits = Bits()
        bits.value(0, bits: 1)
        bits.value(1, bits: 2)
        bits.code(1, bits: 7)  // length 3 (257), the very first symbol
        bits.code(0, bits: 5)  // distance 1
        bits.code(0, bits: 7)
        try expectRefused(bits, "a distance reaches before the stream's start")
    }

    /// A dynamic block's header: 257 literal/length and 1 distance code lengths, read with a code
    /// whose four first symbols (16, 17, 18, 0) have the lengths given.
    static func dynamicHeader(codeLengthCode: [UInt32]) -> Bits {
        var bits = Bits()
        bits.value(0, bits: 1)
        bits.value(2, bits: 2)  // dynamic codes
        bits.value(0, bits: 5)  // HLIT: 257
        bits.value(0, bits: 5)  // HDIST: 1
        bits.value(0, bits: 4)  // HCLEN: 4
        for length in codeLengthCode { bits.value(length, bits: 3) }
        return bits
    }

    @Test func anOversubscribedCodeLengthCode() throws {
        let bits = Self.dynamicHeader(codeLengthCode: [1, 1, 1, 1])  // four codes of one bit
        try expectRefused(bits, "invalid code lengths set")
    }

    @Test func aRepeatWithNothingToRepeat() throws {
        // 0 → code 0, 16 → code 1 (one bit each): the first length read is a repeat.
        var bits = Self.dynamicHeader(codeLengthCode: [1, 0, 0, 1])
        bits.code(1, bits: 1)
        bits.value(0, bits: 2)
        try expectRefused(bits, "a repeat with no length before it")
    }

    @Test func noEndOfBlockCode() throws {
        // 0 → code 0, 18 → code 1: 138 + 120 zeros, every length of the block.
        var bits = Self.dynamicHeader(codeLengthCode: [0, 0, 1, 1])
        bits.code(1, bits: 1)
        bits.value(127, bits: 7)
        bits.code(1, bits: 1)
        bits.value(109, bits: 7)
        try expectRefused(bits, "no end-of-block code")
    }
}

