public import DiscordGateway
import CZstd
public import NIOCore

/// Discord's zstd-stream sender: one zstd stream per connection, flushed after each payload so
/// every WebSocket message decodes to exactly one payload.
public final class ZstdStreamDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .zstdStream }
    private let context: OpaquePointer

    /// - Parameter level: zstd's level, 1–19, or negative for its fast levels.
    public init(level: Int32 = 3) {
        guard let context = ZSTD_createCCtx() else { fatalError("ZSTD_createCCtx could not allocate") }
        self.context = context
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
    }

    deinit { ZSTD_freeCCtx(context) }

    public func deflate(_ payload: UnsafeRawBufferPointer, appendingTo message: inout ByteBuffer) {
        var input = ZSTD_inBuffer(src: payload.baseAddress, size: payload.count, pos: 0)
        // zstd says how much of the flush is still to come; go on until nothing is.
        var remaining = 1
        while remaining != 0 {
            message.writeWithUnsafeMutableBytes(minimumWritableBytes: payload.count / 2 + 64) { space in
                var output = ZSTD_outBuffer(dst: space.baseAddress, size: space.count, pos: 0)
                remaining = ZSTD_compressStream2(context, &output, &input, ZSTD_e_flush)
                precondition(ZSTD_isError(remaining) == 0, "zstd: \(String(cString: ZSTD_getErrorName(remaining)))")
                return output.pos
            }
        }
    }
}
