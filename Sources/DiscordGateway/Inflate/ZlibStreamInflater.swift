import CZlib

/// Inflates Discord's `zlib-stream` transport compression: one zlib stream for the whole
/// connection, flushed with Z_SYNC_FLUSH after every payload.
///
/// A payload may arrive split over several WebSocket messages; it is complete when the bytes
/// buffered for it end in the sync-flush marker `00 00 ff ff`. The common case — one message, one
/// payload — is inflated straight from the caller's bytes without buffering.
public final class ZlibStreamInflater: GatewayInflater {
    public var compression: GatewayCompression { .zlibStream }
    public var pendingInputBytes: Int { pending.count }
    /// The output buffer's current size, for tests of the shrink-back rule.
    var outputCapacity: Int { output.capacity }

    /// The z_stream lives at a fixed address: zlib keeps pointers into it.
    private let stream: UnsafeMutablePointer<z_stream>
    private var output: PayloadBuffer
    /// Compressed bytes of a payload that spans several messages.
    private var pending: [UInt8] = []
    private var failed = false
    private var streamEnded = false

    public init(limits: InflaterLimits = .init()) {
        output = PayloadBuffer(limits: limits)
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // `inflateInit` is a C macro; this is what it expands to.
        let status = inflateInit_(stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        // Only Z_MEM_ERROR / Z_VERSION_ERROR are possible: a broken process, not bad input.
        precondition(status == Z_OK, "inflateInit failed with zlib status \(status)")
        skipChecksum()
    }

    /// Turns off zlib's Adler-32 of the inflated bytes. It is only ever compared at the end of the
    /// stream, which Discord never sends: computed, it was a pass over every payload (≈ 8 % of the
    /// hot path's time on zlib-stream) for nothing. The header is still checked, and every block.
    /// (`inflateReset` keeps the setting; `reset()` sets it again so that no zlib version's reset
    /// can turn it back on unnoticed.)
    private func skipChecksum() {
        // Only fails for a stream zlib does not know: not possible for ours.
        _ = inflateValidate(stream, 0)
    }

    /// The running Adler-32 of the inflated bytes, for the test that it is not computed (1, its
    /// initial value, once the header is read).
    var checksum: UInt { stream.pointee.adler }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func reset() {
        inflateReset(stream)
        skipChecksum()
        pending.removeAll(keepingCapacity: pending.capacity <= output.limits.retainedOutputCapacity)
        output.startPayload()
        failed = false
        streamEnded = false
    }

    public func inflate(_ message: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !failed else { throw InflateError(.needsReset, .zlibStream, detail: "an earlier payload failed") }
        output.startPayload()
        guard !message.isEmpty else { return nil }

        if pending.isEmpty && Self.endsWithSyncFlush(message) {
            return try inflatePayload(message)
        }
        guard pending.count + message.count <= output.limits.maxPendingInputBytes else {
            throw fail(.payloadTooLarge, "more than \(output.limits.maxPendingInputBytes) compressed bytes without a sync flush")
        }
        pending.append(contentsOf: message)
        guard pending.withUnsafeBytes(Self.endsWithSyncFlush) else { return nil }
        defer {
            pending.removeAll(keepingCapacity: pending.capacity <= output.limits.retainedOutputCapacity)
        }
        return try pending.withUnsafeBytes { bytes in
            Result { () throws(InflateError) in try self.inflatePayload(bytes) }
        }.get()
    }

    /// Inflates the compressed bytes of one whole payload into `output`.
    private func inflatePayload(_ input: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !streamEnded else { throw fail(.corruptData, "data after the end of the zlib stream") }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        while true {
            let space = output.freeSpace
            stream.pointee.next_out = space.baseAddress!.assumingMemoryBound(to: Bytef.self)
            stream.pointee.avail_out = uInt(space.count)
            let status = CZlib.inflate(stream, Z_SYNC_FLUSH)
            output.count += space.count - Int(stream.pointee.avail_out)

            switch status {
            case Z_OK, Z_BUF_ERROR:
                // Z_BUF_ERROR only says no progress was possible: all input used or no room left.
                if stream.pointee.avail_out == 0 {
                    if let error = output.grow(for: .zlibStream) { throw fail(error) }
                    continue
                }
                guard stream.pointee.avail_in == 0 else { throw fail(.corruptData, "zlib stopped before the end of its input") }
                // zlib sets 128 in data_type when it stopped between blocks. A sync-flushed payload
                // always ends there; anything else means the compressed bytes were cut short.
                guard stream.pointee.data_type & 128 != 0 else {
                    throw fail(.truncatedPayload, "the payload ends inside a deflate block")
                }
                return output.count == 0 ? nil : output.payload
            case Z_STREAM_END:
                // Discord never ends the stream; a sender that does may not send more on it (its
                // trailer's checksum is not compared: see `skipChecksum`).
                streamEnded = true
                guard stream.pointee.avail_in == 0 else { throw fail(.corruptData, "data after the end of the zlib stream") }
                return output.count == 0 ? nil : output.payload
            case Z_MEM_ERROR:
                throw fail(.outOfMemory, zlibMessage(status))
            default:
                throw fail(.corruptData, zlibMessage(status))
            }
        }
    }

    /// Poisons the stream: every later call throws `needsReset` until `reset()`.
    private func fail(_ error: InflateError) -> InflateError {
        failed = true
        return error
    }

    private func fail(_ kind: InflateError.Kind, _ detail: String) -> InflateError {
        fail(InflateError(kind, .zlibStream, detail: detail))
    }

    private func zlibMessage(_ status: Int32) -> String {
        if let message = stream.pointee.msg { return String(cString: message) }
        return "zlib status \(status)"
    }

    /// Whether `bytes` end in `00 00 ff ff`, the marker Z_SYNC_FLUSH leaves after each payload.
    static func endsWithSyncFlush(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let end = bytes.count
        return end >= 4 && bytes[end - 4] == 0x00 && bytes[end - 3] == 0x00 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xFF
    }
}
