import Testing
@testable import DiscordGateway

@Suite struct ZstdStreamInflaterTests {
    @Test func aCorruptByteIsATypedErrorAndPoisonsTheStream() throws {
        var frames = try Fixtures.frames("zstd-small.capture")
        // Each flushed message after the first starts with a block header; block type 3 is reserved.
        frames[5][0] |= 0x06
        let inflater = ZstdStreamInflater()
        let good = try inflater.inflateAll(Array(frames.prefix(5)))
        #expect(good.count == 5)
        let error = #expect(throws: InflateError.self) { try inflater.inflate(frames[5]) }
        #expect(error?.kind == .corruptData)
        let refused = #expect(throws: InflateError.self) { try inflater.inflate(frames[6]) }
        #expect(refused?.kind == .needsReset)
        inflater.reset()
        #expect(try inflater.inflateAll(Array(frames.prefix(5))) == good)
    }

    @Test(arguments: [1, 2, 5, 40])
    func aTruncatedMessageIsATypedErrorNotAPartialPayload(_ missingBytes: Int) throws {
        let frames = try Fixtures.frames("zstd-small.capture")
        let inflater = ZstdStreamInflater()
        _ = try inflater.inflateAll(Array(frames.prefix(3)))
        let message = frames[3]
        try #require(message.count > missingBytes)
        let error = #expect(throws: InflateError.self) { try inflater.inflate(Array(message.dropLast(missingBytes))) }
        #expect(error?.kind == .truncatedPayload)
    }

    @Test func aWrongFrameMagicIsCorruptData() throws {
        var frames = try Fixtures.frames("zstd-small.capture")
        frames[0][0] ^= 0xFF
        let error = #expect(throws: InflateError.self) { try ZstdStreamInflater().inflate(frames[0]) }
        #expect(error?.kind == .corruptData)
    }

    @Test func theOutputBufferShrinksBackAfterAnOutsizedPayload() throws {
        let frames = try Fixtures.frames("zstd-large.capture")
        let limits = InflaterLimits()
        let inflater = ZstdStreamInflater(limits: limits)
        _ = try inflater.inflate(frames[0])
        let large = try #require(try inflater.inflate(frames[1]))
        #expect(large.count > 1 << 20)
        #expect(inflater.outputCapacity > limits.retainedOutputCapacity)
        _ = try inflater.inflate(frames[2])
        #expect(inflater.outputCapacity == limits.initialOutputCapacity)
    }

    @Test func aPayloadOverTheLimitIsRefused() throws {
        let frames = try Fixtures.frames("zstd-large.capture")
        let limits = InflaterLimits(initialOutputCapacity: 1024, retainedOutputCapacity: 4096, maxPayloadBytes: 256 * 1024)
        let inflater = ZstdStreamInflater(limits: limits)
        _ = try inflater.inflate(frames[0])
        let error = #expect(throws: InflateError.self) { try inflater.inflate(frames[1]) }
        #expect(error?.kind == .payloadTooLarge)
    }

    @Test func steadyStateReusesOneBuffer() throws {
        let frames = try Fixtures.frames("zstd-small.capture")
        let inflater = ZstdStreamInflater()
        var addresses = Set<UnsafeRawPointer?>()
        for frame in frames {
            addresses.insert(try inflater.inflate(frame)?.baseAddress)
        }
        #expect(addresses.count == 1)
    }
}
