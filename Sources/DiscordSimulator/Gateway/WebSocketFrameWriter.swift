import NIOCore
import NIOWebSocket

/// Server-to-client WebSocket frames (final, unmasked, one per message, as Discord sends them)
/// written straight into a buffer. A tick's live dispatches go out as one write below NIO's frame
/// encoder, instead of a frame each through the pipeline, which then writes a separate header
/// buffer for each (their payloads are slices of one buffer, so it cannot prepend the header).
enum WebSocketFrameWriter {
    /// Appends a final frame of `opcode` carrying `payload`'s readable bytes (RFC 6455 §5.2).
    static func append(opcode: WebSocketOpcode, payload: ByteBuffer, to buffer: inout ByteBuffer) {
        let length = payload.readableBytes
        buffer.writeInteger(0x80 | UInt8(webSocketOpcode: opcode))
        switch length {
        case ..<126:
            buffer.writeInteger(UInt8(length))
        case ...Int(UInt16.max):
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeImmutableBuffer(payload)
    }
}
