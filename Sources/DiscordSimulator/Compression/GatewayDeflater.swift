public import DiscordGateway
public import NIOCore

/// Compresses outgoing gateway payloads the way Discord does for one connection.
public protocol GatewayDeflater: AnyObject {
    var compression: GatewayCompression { get }
    /// Appends the bytes of the WebSocket message that carries `payload` to `message`.
    func deflate(_ payload: UnsafeRawBufferPointer, appendingTo message: inout ByteBuffer)
}

extension GatewayDeflater {
    /// The bytes of the WebSocket message that carries `payload`.
    public func deflate(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        var message = ByteBuffer()
        deflate(payload, appendingTo: &message)
        return Array(message.readableBytesView)
    }

    public func deflate(_ payload: [UInt8]) -> [UInt8] {
        payload.withUnsafeBytes { deflate($0) }
    }
}

/// `compress=none`: the payload is the message.
public final class PassthroughDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .none }
    public init() {}
    public func deflate(_ payload: UnsafeRawBufferPointer, appendingTo message: inout ByteBuffer) {
        message.writeBytes(payload)
    }
}
