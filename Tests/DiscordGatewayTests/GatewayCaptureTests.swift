import Testing
@testable import DiscordGateway

@Suite struct GatewayCaptureTests {
    private func frames(in capture: [UInt8]) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        try capture.withUnsafeBytes { bytes in
            try GatewayCapture.forEachFrame(in: bytes) { index, frame in
                #expect(index == frames.count)
                frames.append(Array(frame))
            }
        }
        return frames
    }

    @Test func encodedFramesReadBackInOrder() throws {
        let original: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 70_000), [9]]
        let capture = GatewayCapture.encode(original)
        #expect(capture.count == original.reduce(0) { $0 + 4 + $1.count })
        #expect(Array(capture.prefix(4)) == [3, 0, 0, 0])
        #expect(try frames(in: capture) == original)
    }

    @Test func aCutLengthPrefixNamesTheFrame() {
        let capture = GatewayCapture.encode([[1], [2]]) + [5, 0]
        let error = #expect(throws: CaptureError.self) { try frames(in: capture) }
        #expect(error == CaptureError(frameIndex: 2, offset: 10, reason: .truncatedLength(availableBytes: 2)))
    }

    @Test func aCutFrameNamesTheFrame() {
        let capture = Array(GatewayCapture.encode([[1, 2], [3, 4, 5, 6]]).dropLast(1))
        let error = #expect(throws: CaptureError.self) { try frames(in: capture) }
        #expect(error == CaptureError(frameIndex: 1, offset: 6, reason: .truncatedFrame(length: 4, availableBytes: 3)))
        #expect(error?.description == "frame 1 (at byte 6): the length prefix says 4 bytes but only 3 remain")
    }

    @Test func anAbsurdLengthIsNotACapture() {
        let capture: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0x00]
        let error = #expect(throws: CaptureError.self) { try frames(in: capture) }
        #expect(error?.reason == .frameTooLarge(length: 0xFFFF_FFFF))
    }
}
