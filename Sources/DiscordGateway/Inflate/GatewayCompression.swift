/// The transport compression a gateway connection asks for in its `compress` query parameter.
public enum GatewayCompression: String, Sendable, CaseIterable, CustomStringConvertible {
    /// Plain JSON text frames.
    case none
    /// One zlib stream for the whole connection; a payload ends where the buffered bytes end in
    /// `00 00 ff ff` (the Z_SYNC_FLUSH marker).
    case zlibStream = "zlib-stream"
    /// One zstd stream for the whole connection; every WebSocket message carries one whole payload.
    case zstdStream = "zstd-stream"

    public var description: String { rawValue }

    /// A fresh inflater for one connection using this compression.
    public func makeInflater(limits: InflaterLimits = .init()) -> any GatewayInflater {
        switch self {
        case .none: PassthroughInflater(limits: limits)
        case .zlibStream: ZlibStreamInflater(limits: limits)
        case .zstdStream: ZstdStreamInflater(limits: limits)
        }
    }
}
