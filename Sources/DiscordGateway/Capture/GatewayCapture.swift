/// A recorded gateway session: the WebSocket messages of one connection, in order, each stored as
/// a little-endian `UInt32` byte length followed by that many bytes (still compressed as received).
///
/// Operators record sessions to debug them (`kamii inspect-capture`); tests and benchmarks replay them.
public enum GatewayCapture {
    /// The largest frame a capture may hold; a longer length prefix means the file is not a capture.
    public static let maxFrameBytes = 256 * 1024 * 1024

    /// Calls `body` with each frame's index and bytes, in order.
    ///
    /// The frame bytes are borrowed from `capture` for the duration of the call.
    /// - Throws: ``CaptureError`` naming the first bad frame, or whatever `body` throws. Frames
    ///   before a bad one have already been handed to `body`.
    public static func forEachFrame(
        in capture: UnsafeRawBufferPointer,
        _ body: (_ index: Int, _ frame: UnsafeRawBufferPointer) throws -> Void
    ) throws {
        var offset = 0
        var index = 0
        while offset < capture.count {
            let remaining = capture.count - offset
            guard remaining >= 4 else {
                throw CaptureError(frameIndex: index, offset: offset, reason: .truncatedLength(availableBytes: remaining))
            }
            let length = Int(UInt32(littleEndian: capture.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard length <= maxFrameBytes else {
                throw CaptureError(frameIndex: index, offset: offset, reason: .frameTooLarge(length: length))
            }
            guard length <= remaining - 4 else {
                throw CaptureError(frameIndex: index, offset: offset, reason: .truncatedFrame(length: length, availableBytes: remaining - 4))
            }
            try body(index, UnsafeRawBufferPointer(rebasing: capture[(offset + 4)..<(offset + 4 + length)]))
            offset += 4 + length
            index += 1
        }
    }

    /// Encodes frames in the capture format.
    public static func encode(_ frames: some Sequence<[UInt8]>) -> [UInt8] {
        var capture: [UInt8] = []
        for frame in frames {
            append(frame, to: &capture)
        }
        return capture
    }

    /// Appends one frame to a capture being written.
    public static func append(_ frame: [UInt8], to capture: inout [UInt8]) {
        precondition(frame.count <= maxFrameBytes, "a capture frame holds at most \(maxFrameBytes) bytes")
        withUnsafeBytes(of: UInt32(frame.count).littleEndian) { capture.append(contentsOf: $0) }
        capture.append(contentsOf: frame)
    }
}

/// A capture file that is not well formed, with the frame where reading stopped.
public struct CaptureError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// Fewer than the 4 bytes of a length prefix were left.
        case truncatedLength(availableBytes: Int)
        /// The length prefix promises more bytes than the file has.
        case truncatedFrame(length: Int, availableBytes: Int)
        /// The length prefix is beyond ``GatewayCapture/maxFrameBytes``.
        case frameTooLarge(length: Int)
    }

    /// The zero-based index of the bad frame.
    public let frameIndex: Int
    /// Where that frame's length prefix starts in the file.
    public let offset: Int
    public let reason: Reason

    public var description: String {
        let what = switch reason {
        case .truncatedLength(let available):
            "the file ends inside its length prefix (\(available) of 4 bytes)"
        case .truncatedFrame(let length, let available):
            "the length prefix says \(length) bytes but only \(available) remain"
        case .frameTooLarge(let length):
            "the length prefix says \(length) bytes, more than a capture frame may hold (\(GatewayCapture.maxFrameBytes))"
        }
        return "frame \(frameIndex) (at byte \(offset)): \(what)"
    }
}
