/// The explicit memory limits of one connection's inflater.
public struct InflaterLimits: Sendable, Equatable {
    /// Output capacity allocated up front and returned to after an outsized payload.
    /// A typical MESSAGE_CREATE inflates to 1–3 KiB.
    public var initialOutputCapacity: Int
    /// A payload that made the output buffer grow past this is outsized: the buffer is shrunk back
    /// to `initialOutputCapacity` before the next payload, so a READY burst does not pin megabytes
    /// per shard for the life of the connection.
    public var retainedOutputCapacity: Int
    /// The largest decompressed payload accepted. Anything larger is an error, not an allocation.
    /// At most ``largestPayloadBytes``: a larger value is taken as that.
    public var maxPayloadBytes: Int
    /// The most compressed bytes buffered while a zlib-stream payload spans several frames.
    public var maxPendingInputBytes: Int
    /// The largest zstd window (as a power of two) a zstd-stream sender may ask for. The window is
    /// memory the connection keeps for its whole life; a frame asking for more is refused.
    public var maxZstdWindowLog: Int

    /// The most ``maxPayloadBytes`` may be (4 GiB): what a WebSocket message may hold here, and
    /// where the buffers' arithmetic stays far from overflowing.
    public static let largestPayloadBytes = Int(UInt32.max)

    public init(
        initialOutputCapacity: Int = 32 * 1024,
        retainedOutputCapacity: Int = 512 * 1024,
        maxPayloadBytes: Int = 64 * 1024 * 1024,
        maxPendingInputBytes: Int = 16 * 1024 * 1024,
        maxZstdWindowLog: Int = 24
    ) {
        precondition(initialOutputCapacity > 0, "initialOutputCapacity must be positive")
        precondition(retainedOutputCapacity >= initialOutputCapacity, "retained capacity below initial capacity")
        precondition(maxPayloadBytes >= initialOutputCapacity, "maxPayloadBytes below initial capacity")
        precondition(maxPendingInputBytes > 0, "maxPendingInputBytes must be positive")
        precondition((10...31).contains(maxZstdWindowLog), "maxZstdWindowLog must be between 10 and 31")
        self.initialOutputCapacity = initialOutputCapacity
        self.retainedOutputCapacity = retainedOutputCapacity
        self.maxPayloadBytes = min(maxPayloadBytes, Self.largestPayloadBytes)
        self.maxPendingInputBytes = maxPendingInputBytes
        self.maxZstdWindowLog = maxZstdWindowLog
    }
}
