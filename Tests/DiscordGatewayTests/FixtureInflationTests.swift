import Testing
@testable import DiscordGateway

/// Every Python-made capture inflates to exactly the payloads its manifest lists, at exactly the
/// frames that complete them.
@Suite struct FixtureInflationTests {
    static let captures = Fixtures.manifest.keys.sorted()

    @Test(arguments: captures)
    func inflatesToTheManifest(_ name: String) throws {
        let capture = try #require(Fixtures.manifest[name])
        let compression = try #require(GatewayCompression(rawValue: capture.compression))
        let frames = try Fixtures.frames(name)
        #expect(frames.count == capture.frames)

        let inflater = compression.makeInflater()
        let payloads = try inflater.inflateAll(frames)
        #expect(payloads == capture.payloads.map(InflatedPayload.init))
        #expect(inflater.pendingInputBytes == 0)
    }

    @Test(arguments: captures)
    func resetAllowsTheSameStreamAgain(_ name: String) throws {
        let capture = try #require(Fixtures.manifest[name])
        let inflater = try #require(GatewayCompression(rawValue: capture.compression)).makeInflater()
        let frames = try Fixtures.frames(name)
        let first = try inflater.inflateAll(frames)
        // A connection that dies halfway, then a new one: the old stream must not leak into the new.
        inflater.reset()
        _ = try inflater.inflateAll(Array(frames.prefix(frames.count / 2)))
        inflater.reset()
        #expect(try inflater.inflateAll(frames) == first)
    }

    @Test func aStreamFedToAnotherConnectionsInflaterFails() throws {
        // The second half of a zlib stream means nothing without the first: zlib must say so,
        // rather than hand out garbage as a payload.
        let frames = try Fixtures.frames("zlib-small.capture")
        let inflater = ZlibStreamInflater()
        #expect(throws: InflateError.self) { try inflater.inflateAll(Array(frames.dropFirst(10))) }
    }

    @Test func emptyFramesCarryNoPayload() throws {
        for compression in [GatewayCompression.none, .zlibStream, .zstdStream] {
            let inflater = compression.makeInflater()
            #expect(try inflater.inflate([]) == nil)
            #expect(inflater.pendingInputBytes == 0)
        }
    }
}

@Suite struct PassthroughInflaterTests {
    @Test func eachFrameIsOnePayloadCopiedIntoTheInflatersBuffer() throws {
        let inflater = PassthroughInflater(limits: InflaterLimits(initialOutputCapacity: 4, retainedOutputCapacity: 8, maxPayloadBytes: 64))
        let frame: [UInt8] = Array(#"{"op":11,"d":null}"#.utf8)
        let payload = try #require(try inflater.inflate(frame))
        #expect(Array(payload) == frame)
        let error = #expect(throws: InflateError.self) { try inflater.inflate([UInt8](repeating: 0x20, count: 65)) }
        #expect(error?.kind == .payloadTooLarge)
    }
}
