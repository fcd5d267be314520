/// Turns the WebSocket messages of one gateway connection back into JSON payloads.
///
/// One inflater belongs to one connection and is driven by the one actor that owns the socket.
/// Payloads are handed out as a borrowed view of the inflater's own reusable buffer, so the
/// steady state allocates nothing per message.
public protocol GatewayInflater: AnyObject {
    /// The compression this inflater undoes.
    var compression: GatewayCompression { get }

    /// Feeds the bytes of one WebSocket message.
    ///
    /// - Returns: the whole payload once one is complete; `nil` while a zlib-stream payload is
    ///   still arriving, or when the message carried no payload at all (an empty frame).
    ///   The returned bytes are borrowed: they stay valid until the next call to `inflate` or
    ///   `reset` (and only while the inflater itself is alive), and must be copied if they are
    ///   needed longer.
    /// - Throws: ``InflateError``. After any error every later call throws
    ///   ``InflateError/Kind/needsReset`` until ``reset()``. A payload whose bytes were cut short is
    ///   an error, not a payload — except a zstd-stream message cut exactly between two blocks,
    ///   which only the JSON scan that follows can tell (see ``ZstdStreamInflater``).
    func inflate(_ message: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer?

    /// Compressed bytes received for a payload that has not completed yet. Non-zero when a
    /// connection or a capture ends, it means a payload was cut off.
    var pendingInputBytes: Int { get }

    /// Forgets the stream so the inflater can serve a new connection (a fresh session or a resume).
    func reset()
}

extension GatewayInflater {
    /// Feeds one message held in an array; see ``inflate(_:)-(UnsafeRawBufferPointer)``.
    public func inflate(_ message: [UInt8]) throws(InflateError) -> UnsafeRawBufferPointer? {
        try message.withUnsafeBytes { bytes in
            Result { () throws(InflateError) in try self.inflate(bytes) }
        }.get()
    }
}

/// The inflater for `compress=none`: each text frame already is one payload. It still copies the
/// frame into its own buffer so that every inflater hands out memory with the same lifetime.
public final class PassthroughInflater: GatewayInflater {
    public var compression: GatewayCompression { .none }
    public var pendingInputBytes: Int { 0 }
    private var output: PayloadBuffer
    private var failed = false

    public init(limits: InflaterLimits = .init()) {
        output = PayloadBuffer(limits: limits)
    }

    public func inflate(_ message: UnsafeRawBufferPointer) throws(InflateError) -> UnsafeRawBufferPointer? {
        guard !failed else { throw InflateError(.needsReset, .none, detail: "an earlier payload failed") }
        output.startPayload()
        guard !message.isEmpty else { return nil }
        guard message.count <= output.limits.maxPayloadBytes else {
            failed = true
            throw InflateError(.payloadTooLarge, .none, detail: "payload exceeds \(output.limits.maxPayloadBytes) bytes")
        }
        while output.capacity < message.count {
            if let error = output.grow(for: .none) {
                failed = true
                throw error
            }
        }
        output.freeSpace.copyMemory(from: message)
        output.count = message.count
        return output.payload
    }

    public func reset() {
        output.startPayload()
        failed = false
    }
}
