/// JSON objects rendered once and kept, numbered `0..<count`, back to back in one buffer.
///
/// A generator reuses the user and member objects it renders: most of a payload is one of them.
/// Kept in one buffer rather than as an array each, reusing one costs a copy and no reference
/// count — on a world of a million members that count sat on a cold cache line per object.
struct RenderedObjects: Sendable {
    private var bytes: [UInt8] = []
    /// Per object: its offset in `bytes` shifted left 24 bits, or'ed with its length; 0 when not rendered.
    private var spans: [UInt64]
    /// Past this many bytes the buffer starts again empty (every object is rendered again on its
    /// next use) rather than growing.
    let byteLimit: Int

    static let maxObjectBytes = (1 << 24) - 1

    init(count: Int, byteLimit: Int) {
        spans = Array(repeating: 0, count: count)
        self.byteLimit = byteLimit
    }

    var count: Int { spans.count }

    /// Appends object `index` to `json`; false (and nothing appended) when it was not rendered.
    func append(_ index: Int, to json: inout JSONBytes) -> Bool {
        let span = spans[index]
        guard span != 0 else { return false }
        let start = Int(span >> 24)
        let length = Int(span & UInt64(Self.maxObjectBytes))
        bytes.withUnsafeBufferPointer { json.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: $0[start..<(start + length)])) }
        return true
    }

    /// Keeps `object` as object `index` (one just rendered into a payload: it is copied).
    mutating func keep(_ index: Int, _ object: ArraySlice<UInt8>) {
        guard !object.isEmpty, object.count <= Self.maxObjectBytes else { return }
        if bytes.count + object.count > byteLimit { removeAll() }
        spans[index] = UInt64(bytes.count) << 24 | UInt64(object.count)
        bytes.append(contentsOf: object)
    }

    /// Forgets object `index`: it is rendered again on its next use.
    mutating func forget(_ index: Int) {
        spans[index] = 0
    }

    /// Forgets every object.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        for index in spans.indices { spans[index] = 0 }
    }
}
