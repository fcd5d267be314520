public import DiscordGateway
import CZlib
public import NIOCore

/// Discord's zlib-stream sender: one deflate stream per connection, Z_SYNC_FLUSH after each
/// payload, so every message ends in `00 00 ff ff`.
public final class ZlibStreamDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .zlibStream }
    private let stream: UnsafeMutablePointer<z_stream>

    /// - Parameter level: zlib's compression level, 0–9; -1 (the default) is zlib's default, 6.
    public init(level: Int32 = -1) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // `deflateInit` is a C macro; this is what it expands to.
        let status = deflateInit_(stream, level, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "deflateInit failed with zlib status \(status)")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func deflate(_ payload: UnsafeRawBufferPointer, appendingTo message: inout ByteBuffer) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(payload.count)
        // Output that fills the space given may not be all of it: go on until some space is left.
        var filled = true
        while filled {
            message.writeWithUnsafeMutableBytes(minimumWritableBytes: payload.count / 2 + 64) { output in
                stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                let status = CZlib.deflate(stream, Z_SYNC_FLUSH)
                precondition(status == Z_OK || status == Z_BUF_ERROR, "deflate failed with zlib status \(status)")
                filled = stream.pointee.avail_out == 0
                return output.count - Int(stream.pointee.avail_out)
            }
        }
        stream.pointee.next_in = nil
    }
}
