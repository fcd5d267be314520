import NIOCore
import NIOWebSocket

/// A message or control frame from the gateway: its payload is a slice of the bytes read.
struct GatewayFrame: Sendable {
    let opcode: WebSocketOpcode
    /// The payload (a server's frames are not masked: RFC 6455 §5.1).
    let data: ByteBuffer

    var length: Int { data.readableBytes }
}

/// Reads a server's WebSocket frames (RFC 6455 §5.2) straight from the socket's bytes: each whole
/// message (its fragments joined) and each control frame, in order.
///
/// It takes the place of NIO's frame decoder and aggregator on the gateway's hot path, where they
/// cost ≈ 0.9 µs per frame (a frame object per frame, two handler hops each with a dynamic cast,
/// exclusivity checks); here an unfragmented message is one header read and one slice.
/// Anything a server may not send — reserved bits (no extension is negotiated), a reserved opcode,
/// a masked frame, a fragmented or over-long control frame, a continuation without a message or a
/// message inside another — and a message over `maxMessageBytes` (judged from the header, before
/// its bytes are buffered) is an error: the connection is dropped and the session resumed.
struct GatewayFrameReader {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case reservedBits
        case reservedOpcode(UInt8)
        case maskedByServer
        case invalidControlFrame
        case unexpectedContinuation
        case messageInsideMessage
        case messageTooLarge(maxBytes: Int)
        case tooManyFragments(max: Int)

        var description: String {
            switch self {
            case .reservedBits: "a WebSocket frame set reserved bits"
            case .reservedOpcode(let opcode): "a WebSocket frame with the reserved opcode \(opcode)"
            case .maskedByServer: "a masked WebSocket frame from the server"
            case .invalidControlFrame: "a fragmented or over-long WebSocket control frame"
            case .unexpectedContinuation: "a WebSocket continuation frame without a message"
            case .messageInsideMessage: "a WebSocket message began before the last one ended"
            case .messageTooLarge(let max): "a WebSocket message over \(max) bytes"
            case .tooManyFragments(let max): "a WebSocket message in more than \(max) fragments"
            }
        }
    }

    let maxMessageBytes: Int
    /// Fragments a message may come in, as NIO's aggregator allowed the gateway.
    static let maxFragments = 1_024
    /// The message being joined from fragments, and its opcode.
    private var message: ByteBuffer?
    private var messageOpcode = WebSocketOpcode.binary
    private var fragments = 0

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// The next whole message or control frame in `bytes`, moving its reader index past what was
    /// used; nil when `bytes` ends inside a frame (the rest stays unread for the next call, with
    /// more bytes after it).
    mutating func next(from bytes: inout ByteBuffer) throws -> GatewayFrame? {
        while true {
            guard let (fin, opcode, headerSize, length) = try header(of: bytes) else { return nil }
            if opcode.isControlOpcode {
                guard fin, length <= 125 else { throw Failure.invalidControlFrame }
            } else {
                let joined = opcode == .continuation ? (message?.readableBytes ?? 0) : 0
                // Judged before the payload is waited for: a header that promises too much is
                // refused without buffering its bytes.
                guard length <= maxMessageBytes - joined else { throw Failure.messageTooLarge(maxBytes: maxMessageBytes) }
                if opcode == .continuation {
                    guard message != nil else { throw Failure.unexpectedContinuation }
                } else if message != nil {
                    throw Failure.messageInsideMessage
                }
            }
            guard bytes.readableBytes - headerSize >= length else { return nil }
            bytes.moveReaderIndex(forwardBy: headerSize)
            let payload = bytes.readSlice(length: length)!
            if opcode.isControlOpcode || (fin && opcode != .continuation) {
                return GatewayFrame(opcode: opcode, data: payload)
            }
            if opcode != .continuation {
                message = payload
                messageOpcode = opcode
                fragments = 1
                continue
            }
            fragments += 1
            guard fragments <= Self.maxFragments else { throw Failure.tooManyFragments(max: Self.maxFragments) }
            message!.writeImmutableBuffer(payload)
            if fin {
                defer { message = nil }
                return GatewayFrame(opcode: messageOpcode, data: message!)
            }
        }
    }

    /// FIN, opcode, header size and payload length of the frame `bytes` begins with; nil until its
    /// header has arrived.
    private func header(of bytes: ByteBuffer) throws -> (fin: Bool, opcode: WebSocketOpcode, size: Int, length: Int)? {
        let start = bytes.readerIndex
        guard bytes.readableBytes >= 2, let first = bytes.getInteger(at: start, as: UInt8.self),
              let second = bytes.getInteger(at: start + 1, as: UInt8.self)
        else { return nil }
        guard first & 0x70 == 0 else { throw Failure.reservedBits }
        guard second & 0x80 == 0 else { throw Failure.maskedByServer }
        let code = first & 0x0F
        guard let opcode = WebSocketOpcode(encodedWebSocketOpcode: code), Self.isDefined(opcode) else {
            throw Failure.reservedOpcode(code)
        }
        let fin = first & 0x80 != 0
        switch second & 0x7F {
        case 126:
            guard let length = bytes.getInteger(at: start + 2, as: UInt16.self) else { return nil }
            return (fin, opcode, 4, Int(length))
        case 127:
            guard let length = bytes.getInteger(at: start + 2, as: UInt64.self) else { return nil }
            // Past any limit this reader is given (the top bit must be 0 anyway).
            guard length <= UInt64(Int32.max) else { throw Failure.messageTooLarge(maxBytes: maxMessageBytes) }
            return (fin, opcode, 10, Int(length))
        case let length:
            return (fin, opcode, 2, Int(length))
        }
    }

    private static func isDefined(_ opcode: WebSocketOpcode) -> Bool {
        switch opcode {
        case .continuation, .text, .binary, .connectionClose, .ping, .pong: true
        default: false
        }
    }
}
