public import DiscordGateway
import NIOCore

/// How the simulator compresses the streams it sends. Every setting makes a valid Discord stream
/// (clients cannot tell them apart); they differ in ratio and in CPU per dispatch.
public struct DeflaterSettings: Sendable, Equatable {
    /// Which library writes zlib-stream.
    public enum ZlibEncoder: String, Sendable, CaseIterable {
        /// zlib itself, levels 0–9.
        case zlib
        /// Intel's ISA-L igzip, levels 0–3: level 0 compresses about nine times as fast as zlib's 6,
        /// at a lower ratio.
        case isal
    }

    public var zlibEncoder: ZlibEncoder
    public var zlibLevel: Int32
    /// zstd's level: 1–19, or negative for its fast levels.
    public var zstdLevel: Int32

    public init(zlibEncoder: ZlibEncoder = .zlib, zlibLevel: Int32 = 6, zstdLevel: Int32 = 3) {
        self.zlibEncoder = zlibEncoder
        self.zlibLevel = zlibLevel
        self.zstdLevel = zstdLevel
    }

    /// zlib at its default level and zstd at its default: a ratio like Discord's, and what
    /// captures and the inflate benchmarks use.
    public static let discord = DeflaterSettings()

    /// For load runs, where the simulator must out-run the bot: ISA-L level 0 with Huffman codes
    /// fitted to gateway traffic, and zstd level -3. Messages come out about 1.7× (zlib) and 1.2×
    /// (zstd) larger than with `discord` (docs/PERFORMANCE.md).
    public static let fast = DeflaterSettings(zlibEncoder: .isal, zlibLevel: 0, zstdLevel: -3)

    /// The settings named `discord` or `fast`.
    public init?(named name: String) {
        switch name {
        case "discord": self = .discord
        case "fast": self = .fast
        default: return nil
        }
    }
}

extension GatewayCompression {
    /// A fresh compressor for one connection using this compression.
    public func makeDeflater(_ settings: DeflaterSettings = .discord) -> any GatewayDeflater {
        switch self {
        case .none: PassthroughDeflater()
        case .zlibStream:
            switch settings.zlibEncoder {
            case .zlib: ZlibStreamDeflater(level: settings.zlibLevel)
            case .isal: IsalZlibStreamDeflater(level: settings.zlibLevel)
            }
        case .zstdStream: ZstdStreamDeflater(level: settings.zstdLevel)
        }
    }
}

extension GatewayCompression {
    /// Spoils one message as the corrupt-frame fault does, so that every client refuses it.
    func corrupt(_ message: inout ByteBuffer) {
        guard message.readableBytes > 0 else { return }
        if self == .none {
            message = ByteBuffer(string: "{\"op\":")
        } else {
            // The message starts a new block (zlib after a sync flush, zstd after a flushed
            // block; the first message starts with the zlib header or zstd's magic, which this
            // spoils too): type bits 11 name a reserved block type, which every decoder refuses.
            let first = message.getInteger(at: message.readerIndex, as: UInt8.self)!
            message.setInteger(first | 0x06, at: message.readerIndex)
        }
    }
}
