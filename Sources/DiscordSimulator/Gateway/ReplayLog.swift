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
    /// Chunks by number; chunk `n` is `chunks[n - firstChunk]`.
    private var chunks: [[UInt8]] = []
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
        if chunks.isEmpty || chunks[chunks.count - 1].capacity - chunks[chunks.count - 1].count < atMost {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(max(chunkSize, atMost))
            chunks.append(chunk)
            bytes += chunk.capacity
            trim()
        }
        let chunkIndex = chunks.count - 1
        let offset = chunks[chunkIndex].count
        write(&chunks[chunkIndex])
        let count = chunks[chunkIndex].count - offset
        precondition(count <= atMost, "a replay payload was longer than announced")
        let chunk = firstChunk + chunkIndex
        entries.append(Entry(sequence: sequence, chunk: chunk, offset: offset, count: count))
        // Trimming may drop older chunks, which moves this one: find it again by its number.
        if self.count > countLimit + countLimit / 10 { trim() }
        return chunks[chunk - firstChunk].withUnsafeBytes { use(UnsafeRawBufferPointer(rebasing: $0[offset..<offset + count])) }
    }

    /// The payloads of the dispatches after `sequence`, oldest first.
    func payloads(after sequence: Int) -> [[UInt8]] {
        entries[firstEntry...].filter { $0.sequence > sequence }.map { entry in
            Array(chunks[entry.chunk - firstChunk][entry.offset..<entry.offset + entry.count])
        }
    }

    /// Lets go of everything (the session ended).
    mutating func removeAll() {
        chunks = []
        entries = []
        firstEntry = 0
        bytes = 0
    }

    /// Drops the oldest dispatches past the count limit, then whole chunks past the byte limit
    /// (never the newest chunk). Runs when a chunk is added or the count overshoots by a tenth,
    /// so its cost is spread thin.
    private mutating func trim() {
        if count > countLimit { firstEntry += count - countLimit }
        while bytes > byteLimit, chunks.count > 1 {
            bytes -= chunks[0].capacity
            chunks.removeFirst()
            firstChunk += 1
        }
        // Entries in chunks that are gone go too, and so do chunks with no entry left.
        while firstEntry < entries.count, entries[firstEntry].chunk < firstChunk { firstEntry += 1 }
        let oldestChunk = firstEntry < entries.count ? entries[firstEntry].chunk : firstChunk + chunks.count - 1
        while firstChunk < oldestChunk, chunks.count > 1 {
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
