import CDeflateDecoder

/// Inflates Discord's `zlib-stream` transport compression: one zlib stream for the whole
/// connection, flushed with Z_SYNC_FLUSH after every payload.
///
/// A payload may arrive split over several WebSocket messages; it is complete when the bytes
/// buffered for it end in the sync-flush marker `00 00 ff ff`. The common case — one message, one
/// payload — is inflated straight from the caller's bytes without buffering.
///
/// The decoding is Kamii's own (`CDeflateDecoder`), made for this stream: each payload is decoded
/// in place after the 32 KiB of output before it, so there is no window to copy it into, and
/// nothing is spent on the Adler-32 only the stream's end (which Discord never sends) would be
/// compared with. Its output memory is one arena: the window, room for payloads (twice
/// ``InflaterLimits/initialOutputCapacity``), grown for an outsized payload and returned to that
/// size before the next.
public final class ZlibStreamInflater: GatewayInflater {
    public var compression: GatewayCompression { .zlibStream }
    public var pendingInputBytes: Int { pending.count }
    /// The arena's current size, for tests of the shrink-back rule.
    var outputCapacity: Int { kamii_deflate_capacity(decoder) }
    /// The arena's start, for tests that payloads are decoded in place.
    var arena: UnsafeRawPointer { UnsafeRawPointer(kamii_deflate_arena(decoder)) }

    private let decoder: OpaquePointer
    private let limits: InflaterLimits
    /// Compressed bytes of a payload that spans several messages.
    private var pending: [UInt8] = []
    private var failed = false
    private var streamEnded = false

    public init(limits: InflaterLimits = .init()) {
        self.limits = limits
        // Only a failed allocation of the arena: a broken process, not bad input.
        guard let decoder = kamii_deflate_create(2 * limits.initialOutputCapacity, limits.retainedOutputCapacity, limits.maxPayloadBytes)
        else { fatalError("out of memory creating a zlib-stream decoder") }
        self.decoder = decoder
    }

    deinit {
        kamii_deflate_destroy(decoder)
    }

    public func reset() {
        kamii_deflate_reset(decoder)
        pending.removeAll(keepingCapacity: pending.capacity <= limits.retainedOutputCapacity)
        failed = false
        streamEnded = false
    }

    public func inflate(_ message: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !failed else { throw InflateError(.needsReset, .zlibStream, detail: "an earlier payload failed") }
        guard !message.isEmpty else { return nil }

        if pending.isEmpty && Self.endsWithSyncFlush(message) {
            return try inflatePayload(message)
        }
        guard pending.count + message.count <= limits.maxPendingInputBytes else {
            throw fail(.payloadTooLarge, "more than \(limits.maxPendingInputBytes) compressed bytes without a sync flush")
        }
        pending.append(contentsOf: message)
        guard pending.withUnsafeBytes(Self.endsWithSyncFlush) else { return nil }
        defer {
            pending.removeAll(keepingCapacity: pending.capacity <= limits.retainedOutputCapacity)
        }
        return try pending.withUnsafeBytes { bytes in
            Result { () throws(InflateError) in try self.inflatePayload(bytes) }
        }.get()
    }

    /// Inflates the compressed bytes of one whole payload.
    private func inflatePayload(_ input: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !streamEnded else { throw fail(.corruptData, "data after the end of the zlib stream") }
        var payload: UnsafePointer<UInt8>?
        var count = 0
        var ended: Int32 = 0
        var detail: UnsafePointer<CChar>?
        let status = kamii_deflate_payload(
            decoder, input.baseAddress!.assumingMemoryBound(to: UInt8.self), input.count, &payload, &count, &ended, &detail)
        guard status == Int32(KAMII_DEFLATE_OK) else {
            let said = detail.map { String(cString: $0) } ?? "status \(status)"
            switch status {
            case Int32(KAMII_DEFLATE_TRUNCATED): throw fail(.truncatedPayload, said)
            case Int32(KAMII_DEFLATE_TOO_LARGE): throw fail(.payloadTooLarge, "payload exceeds \(limits.maxPayloadBytes) bytes")
            case Int32(KAMII_DEFLATE_NO_MEMORY): throw fail(.outOfMemory, said)
            default: throw fail(.corruptData, said)
            }
        }
        // Discord never ends the stream; a sender that does may not send more on it.
        if ended != 0 { streamEnded = true }
        guard count > 0, let payload else { return nil }
        return UnsafeRawBufferPointer(start: payload, count: count)
    }

    /// Poisons the stream: every later call throws `needsReset` until `reset()`.
    private func fail(_ kind: InflateError.Kind, _ detail: String) -> InflateError {
        failed = true
        return InflateError(kind, .zlibStream, detail: detail)
    }

    /// Whether `bytes` end in `00 00 ff ff`, the marker Z_SYNC_FLUSH leaves after each payload.
    static func endsWithSyncFlush(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let end = bytes.count
        return end >= 4 && bytes[end - 4] == 0x00 && bytes[end - 3] == 0x00 && bytes[end - 2] == 0xFF && bytes[end - 1] == 0xFF
    }
}
