/// What a ``JSONScanner`` hands out: keys to compare, strings located but not decoded, errors.

/// A member's key as it appears in the payload, compared without allocating.
public struct JSONKey {
    /// The bytes between the quotes, escapes undecoded.
    public let bytes: UnsafeRawBufferPointer
    let hasEscapes: Bool

    /// Whether the key equals `name` (which has no escapes).
    @inline(__always)
    public static func == (key: JSONKey, name: StaticString) -> Bool {
        if key.hasEscapes {
            return (try? JSONEscapes.decode(key.bytes, at: 0)) == name.description
        }
        guard key.bytes.count == name.utf8CodeUnitCount else { return false }
        return key.bytes.isEmpty || memcmpEqual(key.bytes.baseAddress!, name.utf8Start, key.bytes.count)
    }
}

/// A string value located in the scanned bytes, escapes undecoded.
public struct JSONRawString: Sendable, Equatable {
    /// The bytes between the quotes.
    public var range: Range<Int>
    public var hasEscapes: Bool

    public init(range: Range<Int>, hasEscapes: Bool) {
        self.range = range
        self.hasEscapes = hasEscapes
    }

    /// The string's value, escapes decoded; `bytes` are the bytes it was scanned from.
    public func decode(in bytes: UnsafeRawBufferPointer) throws(JSONScanError) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        return try JSONEscapes.decode(raw, at: range.lowerBound)
    }
}

/// Where and why a payload could not be scanned.
public struct JSONScanError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The byte offset in the payload where scanning stopped.
    public let offset: Int
    public let message: String

    public var description: String { "invalid JSON at byte \(offset): \(message)" }
}

/// Whether `count` bytes at `lhs` and `rhs` are equal: a word at a time (the last word overlapping
/// the one before it), for names and keys are short and compared often.
@inline(__always)
func memcmpEqual(_ lhs: UnsafeRawPointer, _ rhs: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    let rhs = UnsafeRawPointer(rhs)
    if count >= 8 {
        var index = 0
        while index + 8 < count {
            guard lhs.loadUnaligned(fromByteOffset: index, as: UInt64.self) == rhs.loadUnaligned(fromByteOffset: index, as: UInt64.self)
            else { return false }
            index += 8
        }
        return lhs.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self) == rhs.loadUnaligned(fromByteOffset: count - 8, as: UInt64.self)
    }
    if count >= 4 {
        return lhs.loadUnaligned(as: UInt32.self) == rhs.loadUnaligned(as: UInt32.self)
            && lhs.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self) == rhs.loadUnaligned(fromByteOffset: count - 4, as: UInt32.self)
    }
    for index in 0..<count where lhs.load(fromByteOffset: index, as: UInt8.self) != rhs.load(fromByteOffset: index, as: UInt8.self) {
        return false
    }
    return true
}
