public import DiscordGateway
import CZstd

/// Discord's zstd-stream sender: one zstd stream per connection, flushed after each payload so
/// every WebSocket message decodes to exactly one payload.
public final class ZstdStreamDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .zstdStream }
    private let context: OpaquePointer
    private var scratch = [UInt8](repeating: 0, count: 64 * 1024)

    public init(level: Int32 = 3) {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx could not allocate") }
        self.context = context
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    }

    deinit { ZSTD_freeCCtx(context) }

    public func deflate(_ payload: UnsafeRawBufferPointer) -> [UInt8] {
        var message: [UInt8] = []
        var input = ZSTD_inBuffer(src: payload.baseAddress, size: payload.count, pos: 0)
        scratch.withUnsafeMutableBytes { scratch in
            var remaining = 0
            repeat {
                var output = ZSTD_outBuffer(dst: scratch.baseAddress, size: scratch.count, pos: 0)
                remaining = ZSTD_compressStream2(context, &output, &input, ZSTD_e_flush)
                precondition(ZSTD_isError(remaining) == 0, "zstd: \(String(cString: ZSTD_getErrorName(remaining)))")
                message.append(contentsOf: scratch.prefix(output.pos))
            } while remaining != 0
        }
        return message
    }
}
