import CZstd

/// Inflates Discord's `zstd-stream` transport compression: one zstd stream for the whole
/// connection, flushed after every payload, and every WebSocket message carries one whole payload.
///
/// zstd marks no end of a flush, so the inflater can only catch a message cut inside a block or a
/// header. A message cut exactly between two blocks of a large payload inflates to an unfinished
/// JSON document: ``GatewayEnvelope/peek(_:)`` refuses it, and the shard treats that as a broken
/// stream like any other inflate error.
public final class ZstdStreamInflater: GatewayInflater {
    public var compression: GatewayCompression { .zstdStream }
    /// Always 0: every zstd-stream message carries a whole payload.
    public var pendingInputBytes: Int { 0 }
    /// The output buffer's current size, for tests of the shrink-back rule.
    var outputCapacity: Int { output.capacity }

    /// What `ZSTD_decompressStream` asks for next when it stopped between two blocks: a block header.
    private static let blockHeaderSize = 3

    private let context: OpaquePointer
    private var output: PayloadBuffer
    private var failed = false

    public init(limits: InflaterLimits = .init()) {
        output = PayloadBuffer(limits: limits)
        guard let context = ZSTD_createDCtx() else { fatalError("ZSTD_createDCtx could not allocate") }
        self.context = context
        ZSTD_DCtx_setParameter(context, ZSTD_d_windowLogMax, Int32(limits.maxZstdWindowLog))
    }

    deinit { ZSTD_freeDCtx(context) }

    public func reset() {
        ZSTD_DCtx_reset(context, ZSTD_reset_session_only)
        output.startPayload()
        failed = false
    }

    public func inflate(_ message: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !failed else { throw InflateError(.needsReset, .zstdStream, detail: "an earlier payload failed") }
        output.startPayload()
        guard !message.isEmpty else { return nil }

        var input = ZSTD_inBuffer(src: message.baseAddress, size: message.count, pos: 0)
        var nextInputHint = 0
        while true {
            let space = output.freeSpace
            var out = ZSTD_outBuffer(dst: space.baseAddress, size: space.count, pos: 0)
            nextInputHint = ZSTD_decompressStream(context, &out, &input)
            output.count += out.pos
            if ZSTD_isError(nextInputHint) != 0 {
                let kind: InflateError.Kind = switch ZSTD_getErrorCode(nextInputHint) {
                case ZSTD_error_memory_allocation: .outOfMemory
                case ZSTD_error_frameParameter_windowTooLarge: .payloadTooLarge
                default: .corruptData
                }
                throw fail(kind, String(cString: ZSTD_getErrorName(nextInputHint)))
            }
            // A full output buffer may hide more decoded bytes: grow and ask again.
            if out.pos == out.size {
                if let error = output.grow(for: .zstdStream) { throw fail(error) }
                continue
            }
            if input.pos == input.size { break }
        }
        // The decoder asks for 0 bytes at the end of a frame and for a block header between
        // blocks. Anything else means this message stopped inside a block or a header.
        guard nextInputHint == 0 || nextInputHint == Self.blockHeaderSize else {
            throw fail(.truncatedPayload, "the message ends inside a zstd block (decoder wants \(nextInputHint) more bytes)")
        }
        return output.count == 0 ? nil : output.payload
    }

    /// Poisons the stream: every later call throws `needsReset` until `reset()`.
    private func fail(_ error: InflateError) -> InflateError {
        failed = true
        return error
    }

    private func fail(_ kind: InflateError.Kind, _ detail: String) -> InflateError {
        fail(InflateError(kind, .zstdStream, detail: detail))
    }
}
