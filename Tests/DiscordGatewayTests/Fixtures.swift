import CZlib
import Foundation
@testable import DiscordGateway

/// The Python-made captures in `Fixtures/` and what `manifest.json` says they hold.
enum Fixtures {
    struct Payload: Decodable {
        /// The frame whose arrival completes the payload.
        let frame: Int
        let length: Int
        let crc32: UInt32
        let op: Int
        let s: Int?
        let t: String?
    }

    struct Capture: Decodable {
        let compression: String
        let frames: Int
        let payloads: [Payload]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let manifest: [String: Capture] = {
        let data = try! Data(contentsOf: directory.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode([String: Capture].self, from: data)
    }()

    /// The frames of capture `name`, as separate arrays.
    static func frames(_ name: String) throws -> [[UInt8]] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        var frames: [[UInt8]] = []
        try data.withUnsafeBytes { bytes in
            try GatewayCapture.forEachFrame(in: bytes) { _, frame in frames.append(Array(frame)) }
        }
        return frames
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(CZlib.crc32(0, bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}

/// What one inflated payload looked like, copied out of the inflater's borrowed buffer.
struct InflatedPayload: Equatable {
    let frame: Int
    let length: Int
    let crc32: UInt32

    init(frame: Int, bytes: UnsafeRawBufferPointer) {
        self.frame = frame
        length = bytes.count
        crc32 = Fixtures.crc32(bytes)
    }

    init(_ expected: Fixtures.Payload) {
        frame = expected.frame
        length = expected.length
        crc32 = expected.crc32
    }
}

extension GatewayInflater {
    /// Feeds `frames` in order and records each payload with the frame that completed it.
    func inflateAll(_ frames: [[UInt8]]) throws(InflateError) -> [InflatedPayload] {
        var payloads: [InflatedPayload] = []
        for (index, frame) in frames.enumerated() {
            if let payload = try inflate(frame) {
                payloads.append(InflatedPayload(frame: index, bytes: payload))
            }
        }
        return payloads
    }
}
