import Testing
@testable import DiscordGateway

@Suite struct ZlibStreamInflaterTests {
    @Test func aPayloadSplitInsideTheMarkerWaitsForItsLastFrame() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let message = frames[0]
        let inflater = ZlibStreamInflater()
        // `00 00 ff` arrives, then the last `ff`: only the second frame completes the payload.
        #expect(try inflater.inflate(Array(message.dropLast())) == nil)
        #expect(inflater.pendingInputBytes == message.count - 1)
        let payload = try #require(try inflater.inflate([message.last!]))
        #expect(Fixtures.crc32(payload) == Fixtures.manifest["zlib-small.capture"]!.payloads[0].crc32)
        #expect(inflater.pendingInputBytes == 0)
    }

    @Test func aCorruptByteIsATypedErrorAndPoisonsTheStream() throws {
        var frames = try Fixtures.frames("zlib-small.capture")
        // After a sync flush the next payload starts on a byte boundary with a block header;
        // setting its type bits to 11 makes it a reserved block type.
        frames[5][0] |= 0x06
        let inflater = ZlibStreamInflater()
        let good = try inflater.inflateAll(Array(frames.prefix(5)))
        #expect(good.count == 5)
        let error = #expect(throws: InflateError.self) { try inflater.inflate(frames[5]) }
        #expect(error?.kind == .corruptData)
        #expect(error?.detail == "invalid block type")
        // The stream cannot be trusted any more, not even with good bytes.
        let refused = #expect(throws: InflateError.self) { try inflater.inflate(frames[6]) }
        #expect(refused?.kind == .needsReset)
        inflater.reset()
        #expect(try inflater.inflateAll(frames.prefix(5).map { $0 }) == good)
    }

    @Test func aTruncatedPayloadIsNeverHandedOn() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let inflater = ZlibStreamInflater()
        _ = try inflater.inflateAll(Array(frames.prefix(3)))
        // Message 3 with its middle cut out but its marker kept: the bytes end inside a block.
        let message = frames[3]
        let cut = Array(message.prefix(message.count / 2)) + [0x00, 0x00, 0xFF, 0xFF]
        let error = #expect(throws: InflateError.self) { try inflater.inflate(cut) }
        #expect(error?.kind == .truncatedPayload || error?.kind == .corruptData)
        #expect(throws: InflateError.self) { try inflater.inflate(frames[4]) }
    }

    @Test func aStreamCutBeforeItsMarkerLeavesPendingBytesAndNoPayload() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let inflater = ZlibStreamInflater()
        #expect(try inflater.inflate(Array(frames[0].dropLast(4))) == nil)
        #expect(inflater.pendingInputBytes == frames[0].count - 4)
        inflater.reset()
        #expect(inflater.pendingInputBytes == 0)
    }

    @Test func theOutputBufferShrinksBackAfterAnOutsizedPayload() throws {
        let frames = try Fixtures.frames("zlib-large.capture")
        let limits = InflaterLimits()
        let inflater = ZlibStreamInflater(limits: limits)
        _ = try inflater.inflate(frames[0])
        let first = inflater.outputCapacity
        // The window and room for payloads twice the initial capacity.
        #expect(first > 32 * 1024 + 2 * limits.initialOutputCapacity && first < limits.retainedOutputCapacity)
        let large = try #require(try inflater.inflate(frames[1]))
        #expect(large.count > 1 << 20)
        #expect(inflater.outputCapacity > limits.retainedOutputCapacity)
        _ = try inflater.inflate(frames[2])
        #expect(inflater.outputCapacity == first)
    }

    /// The stream decodes again after a reset; the header is checked.
    @Test func theStreamDecodesAgainAfterAResetAndTheHeaderIsChecked() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let expected = try #require(Fixtures.manifest["zlib-small.capture"]).payloads.map(InflatedPayload.init)
        let inflater = ZlibStreamInflater()
        for _ in 0..<2 {
            #expect(try inflater.inflateAll(frames) == expected)
            inflater.reset()
        }
        var badHeader = frames[0]
        badHeader[1] ^= 0x01  // FCHECK no longer makes the header a multiple of 31
        let error = #expect(throws: InflateError.self) { try inflater.inflate(badHeader) }
        #expect(error?.kind == .corruptData)
        #expect(error?.detail == "incorrect header check")
    }

    /// Payloads are decoded in place in one arena, which neither moves nor grows at steady state.
    @Test func steadyStateReusesOneBuffer() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let inflater = ZlibStreamInflater()
        _ = try inflater.inflate(frames[0])
        let (arena, capacity) = (inflater.arena, inflater.outputCapacity)
        for frame in frames.dropFirst() {
            let payload = try #require(try inflater.inflate(frame))
            #expect(payload.baseAddress! >= arena && payload.baseAddress! + payload.count <= arena + capacity)
            #expect(inflater.arena == arena && inflater.outputCapacity == capacity)
        }
    }

    @Test func aPayloadOverTheLimitIsRefused() throws {
        let frames = try Fixtures.frames("zlib-large.capture")
        let limits = InflaterLimits(initialOutputCapacity: 1024, retainedOutputCapacity: 4096, maxPayloadBytes: 256 * 1024)
        let inflater = ZlibStreamInflater(limits: limits)
        _ = try inflater.inflate(frames[0])
        let error = #expect(throws: InflateError.self) { try inflater.inflate(frames[1]) }
        #expect(error?.kind == .payloadTooLarge)
    }

    /// The arena grows no further than a payload within the limit needs (the 32 KiB window, the
    /// payload, one match's room, and the 64 bytes the decoder's 16-byte copies may run past its
    /// end), not to the next doubling past it.
    @Test func theArenaStopsGrowingAtWhatTheLimitNeeds() throws {
        let frames = try Fixtures.frames("zlib-large.capture")
        let size = Fixtures.manifest["zlib-large.capture"]!.payloads[1].length
        let inflater = ZlibStreamInflater(limits: InflaterLimits(initialOutputCapacity: 1024, retainedOutputCapacity: 4096, maxPayloadBytes: size))
        _ = try inflater.inflate(frames[0])
        #expect(try inflater.inflate(frames[1])?.count == size)
        #expect(inflater.outputCapacity <= 32_768 + size + 274 + 64)
    }

    @Test func endlessBytesWithoutAMarkerAreRefused() throws {
        let inflater = ZlibStreamInflater(limits: InflaterLimits(maxPendingInputBytes: 100_000))
        let chunk = [UInt8](repeating: 0x41, count: 30_000)
        for _ in 0..<3 { #expect(try inflater.inflate(chunk) == nil) }
        let error = #expect(throws: InflateError.self) { try inflater.inflate(chunk) }
        #expect(error?.kind == .payloadTooLarge)
    }

    @Test func garbageIsCorruptData() {
        let inflater = ZlibStreamInflater()
        let error = #expect(throws: InflateError.self) { try inflater.inflate([0x12, 0x34, 0x56, 0x00, 0x00, 0xFF, 0xFF]) }
        #expect(error?.kind == .corruptData)
    }
}

@Suite struct PayloadLimitTests {
    /// A limit past what a message may hold is taken as that (4 GiB), not trusted into arithmetic
    /// that would overflow: payloads that make the buffers grow inflate.
    @Test func aLimitBeyondFourGiBIsHeldThere() throws {
        let limits = InflaterLimits(maxPayloadBytes: .max)
        #expect(limits.maxPayloadBytes == Int(UInt32.max))
        let zstd = try Fixtures.frames("zstd-large.capture")
        let inflater = ZstdStreamInflater(limits: limits)
        _ = try inflater.inflate(zstd[0])
        #expect(try inflater.inflate(zstd[1])?.count ?? 0 > 1 << 20)
        let zlib = try Fixtures.frames("zlib-large.capture")
        let zlibInflater = ZlibStreamInflater(limits: limits)
        _ = try zlibInflater.inflate(zlib[0])
        #expect(try zlibInflater.inflate(zlib[1])?.count ?? 0 > 1 << 20)
        #expect(try PassthroughInflater(limits: limits).inflate([UInt8](repeating: 0x20, count: 100_000))?.count == 100_000)
    }

    @Test func aPayloadOfExactlyTheLimitFitsAndOneByteMoreDoesNot() throws {
        let frames = try Fixtures.frames("zlib-small.capture")
        let size = Fixtures.manifest["zlib-small.capture"]!.payloads[0].length
        let exact = InflaterLimits(initialOutputCapacity: 16, retainedOutputCapacity: 16, maxPayloadBytes: size)
        #expect(try ZlibStreamInflater(limits: exact).inflate(frames[0])?.count == size)
        let below = InflaterLimits(initialOutputCapacity: 16, retainedOutputCapacity: 16, maxPayloadBytes: size - 1)
        let error = #expect(throws: InflateError.self) { try ZlibStreamInflater(limits: below).inflate(frames[0]) }
        #expect(error?.kind == .payloadTooLarge)

        let passthrough = PassthroughInflater(limits: InflaterLimits(initialOutputCapacity: 4, retainedOutputCapacity: 4, maxPayloadBytes: 8))
        #expect(try passthrough.inflate([UInt8](repeating: 0x20, count: 8))?.count == 8)
        #expect(throws: InflateError.self) { try passthrough.inflate([UInt8](repeating: 0x20, count: 9)) }
        let refused = #expect(throws: InflateError.self) { try passthrough.inflate([0x20]) }
        #expect(refused?.kind == .needsReset)
    }
}
