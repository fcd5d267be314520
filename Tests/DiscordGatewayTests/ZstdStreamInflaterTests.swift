import Testing
@testable import DiscordGateway
import CZstd
import DiscordModels

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

@Suite struct ZstdStreamLimitTests {
    @Test func aMessageCutBetweenBlocksInflatesToJSONTheEnvelopeScanRefuses() throws {
        let frames = try Fixtures.frames("zstd-large.capture")
        let message = frames[1]
        // Find a cut the decoder cannot tell from a whole message: it stops between two blocks.
        var partial: [UInt8]?
        for cut in stride(from: message.count / 2, to: message.count - 1, by: 1) {
            let inflater = ZstdStreamInflater()
            _ = try inflater.inflate(frames[0])
            if let payload = try? inflater.inflate(Array(message.prefix(cut))) {
                partial = Array(payload)
                break
            }
        }
        let payload = try #require(partial, "no block boundary found")
        #expect(payload.count < Fixtures.manifest["zstd-large.capture"]!.payloads[1].length)
        #expect(throws: JSONScanError.self) { try GatewayEnvelope.peek(payload) }
    }

    @Test func aFrameAskingForAWindowBeyondTheLimitIsRefused() throws {
        let context = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(context) }
        ZSTD_CCtx_setParameter(context, ZSTD_c_windowLog, 26)
        let payload = Array(#"{"op":11,"d":null}"#.utf8)
        var output = [UInt8](repeating: 0, count: 256)
        let written = payload.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                var input = ZSTD_inBuffer(src: source.baseAddress, size: source.count, pos: 0)
                var out = ZSTD_outBuffer(dst: destination.baseAddress, size: destination.count, pos: 0)
                _ = ZSTD_compressStream2(context, &out, &input, ZSTD_e_flush)
                return out.pos
            }
        }
        let message = Array(output.prefix(written))
        let generous = ZstdStreamInflater(limits: InflaterLimits(maxZstdWindowLog: 27))
        let inflated = try generous.inflate(message).map(Array.init)
        #expect(inflated == payload)
        let error = #expect(throws: InflateError.self) { try ZstdStreamInflater(limits: InflaterLimits(maxZstdWindowLog: 24)).inflate(message) }
        #expect(error?.kind == .payloadTooLarge)
    }
}
