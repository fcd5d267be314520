#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The reusable output memory of one inflater: grown by doubling (with `realloc`, so it may grow
/// in place), shrunk back after an outsized payload, never reallocated at steady state.
struct PayloadBuffer: ~Copyable {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    /// Bytes of the current payload written so far.
    var count = 0
    let limits: InflaterLimits

    init(limits: InflaterLimits) {
        self.limits = limits
        self.capacity = limits.initialOutputCapacity
        guard let memory = malloc(capacity) else { fatalError("out of memory allocating \(capacity) bytes") }
        self.base = memory
    }

    deinit { free(base) }

    /// Where the decompressor writes next, and how much room there is.
    var freeSpace: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base + count, count: capacity - count)
    }

    /// The bytes written for the current payload.
    var payload: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Starts a new payload; returns the memory to its initial size if the last payload was outsized.
    mutating func startPayload() {
        count = 0
        if capacity > limits.retainedOutputCapacity { resize(to: limits.initialOutputCapacity) }
    }

    /// Doubles the capacity, up to one byte more than `maxPayloadBytes`: a payload of exactly the
    /// limit fits with room to spare, so a full buffer at that size always means a payload too large.
    /// - Returns: nil when it grew, otherwise the error the inflater of `compression` reports.
    mutating func grow(for compression: GatewayCompression) -> InflateError? {
        let ceiling = limits.maxPayloadBytes + 1
        guard capacity < ceiling else {
            return InflateError(.payloadTooLarge, compression, detail: "payload exceeds \(limits.maxPayloadBytes) bytes")
        }
        guard resize(to: min(capacity * 2, ceiling)) else {
            return InflateError(.outOfMemory, compression, detail: "could not grow the payload buffer past \(capacity) bytes")
        }
        return nil
    }

    @discardableResult
    private mutating func resize(to newCapacity: Int) -> Bool {
        guard let memory = realloc(base, newCapacity) else { return false }
        base = memory
        capacity = newCapacity
        return true
    }
}
