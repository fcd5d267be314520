public import DiscordGateway

/// Compresses outgoing gateway payloads the way Discord does for one connection.
public protocol GatewayDeflater: AnyObject {
    var compression: GatewayCompression { get }
    /// The bytes of the WebSocket message that carries `payload`.
    func deflate(_ payload: UnsafeRawBufferPointer) -> [UInt8]
}

extension GatewayDeflater {
    public func deflate(_ payload: [UInt8]) -> [UInt8] {
        payload.withUnsafeBytes { deflate($0) }
    }
}

extension GatewayCompression {
    /// A fresh compressor for one connection using this compression, at the given levels
    /// (zlib 0–9, default 6; zstd 1–19, default 3).
    public func makeDeflater(zlibLevel: Int32 = 6, zstdLevel: Int32 = 3) -> any GatewayDeflater {
        switch self {
        case .none: PassthroughDeflater()
        case .zlibStream: ZlibStreamDeflater(level: zlibLevel)
        case .zstdStream: ZstdStreamDeflater(level: zstdLevel)
        }
    }
}

/// `compress=none`: the payload is the message.
public final class PassthroughDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .none }
    public init() {}
    public func deflate(_ payload: UnsafeRawBufferPointer) -> [UInt8] { Array(payload) }
}
