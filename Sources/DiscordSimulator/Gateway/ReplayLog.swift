/// The dispatches a session keeps so a resume can replay them: `(s, payload)` of the latest
/// ones, oldest first, within a count and a byte bound (Discord's own window is bounded too).
///
/// Payloads are written end to end into large chunks rather than kept as one array each, so
/// keeping a dispatch costs a copy but no allocation, and the newest payload can be compressed
/// straight from where it is kept.
struct ReplayLog: Sendable {
    private struct Entry: Sendable {
        let sequence: Int
        let chunk: Int
        let offset: Int
        let count: Int
    }

    let countLimit: Int
    let byteLimit: Int
    let chunkSize: Int
    /// The full chunks by number (chunk `n` is `chunks[n - firstChunk]`), then the one written to,
    /// kept apart: writing a payload into it and reading it back touch no reference count, as an
    /// element of `chunks` would (a retain and a release per dispatch).
    private var chunks: [[UInt8]] = []
    private var current: [UInt8] = []
    private var firstChunk = 0
    /// Entries oldest first; those before `firstEntry` are gone (compacted now and then).
    private var entries: [Entry] = []
    private var firstEntry = 0
    /// Bytes of the chunks held, counted by capacity used.
    private var bytes = 0

    init(countLimit: Int = 100_000, byteLimit: Int = 64 << 20, chunkSize: Int = 1 << 20) {
        self.countLimit = countLimit
        self.byteLimit = byteLimit
        self.chunkSize = chunkSize
    }

    /// How many dispatches are kept.
    var count: Int { entries.count - firstEntry }

    /// The oldest `s` kept (nil when none is).
    var oldestSequence: Int? { firstEntry < entries.count ? entries[firstEntry].sequence : nil }

    /// Keeps the dispatch numbered `sequence`, its payload written by `write` (which appends
    /// at most `atMost` bytes), and gives the payload to `use` where it is kept.
    mutating func append<Result>(
        sequence: Int, atMost: Int, write: (inout [UInt8]) -> Void, use: (UnsafeRawBufferPointer) -> Result
    ) -> Result {
        if current.capacity - current.count < atMost {
            if current.capacity > 0 { chunks.append(current) }
            current = []
            current.reserveCapacity(max(chunkSize, atMost))
            bytes += current.capacity
            trim()
        }
        let offset = current.count
        write(&current)
        let count = current.count - offset
        precondition(count <= atMost, "a replay payload was longer than announced")
        entries.append(Entry(sequence: sequence, chunk: firstChunk + chunks.count, offset: offset, count: count))
        if self.count > countLimit + countLimit / 10 { trim() }
        return current.withUnsafeBytes { use(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
    }

    /// The payloads of the dispatches after `sequence`, oldest first.
    func payloads(after sequence: Int) -> [[UInt8]] {
        entries[firstEntry...].filter { $0.sequence > sequence }.map { entry in
            let index = entry.chunk - firstChunk
            return Array((index < chunks.count ? chunks[index] : current)[entry.offset..<entry.offset + entry.count])
        }
    }

    /// Lets go of everything (the session ended).
    mutating func removeAll() {
        chunks = []
        current = []
        entries = []
        firstEntry = 0
        bytes = 0
    }

    /// Drops the oldest dispatches past the count limit, then whole chunks past the byte limit
    /// (never the one written to). Runs when a chunk is added or the count overshoots by a tenth,
    /// so its cost is spread thin.
    private mutating func trim() {
        if count > countLimit { firstEntry += count - countLimit }
        while bytes > byteLimit, !chunks.isEmpty {
            bytes -= chunks[0].capacity
            chunks.removeFirst()
            firstChunk += 1
        }
        // Entries in chunks that are gone go too, and so do chunks with no entry left.
        while firstEntry < entries.count, entries[firstEntry].chunk < firstChunk { firstEntry += 1 }
        let oldestChunk = firstEntry < entries.count ? entries[firstEntry].chunk : firstChunk + chunks.count
        while firstChunk < oldestChunk, !chunks.isEmpty {
            bytes -= chunks[0].capacity
            chunks.removeFirst()
            firstChunk += 1
        }
        if firstEntry > entries.count / 2 {
            entries.removeFirst(firstEntry)
            firstEntry = 0
        }
    }
}
