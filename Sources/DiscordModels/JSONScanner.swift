/// A forward-only reader over JSON bytes that reads the few values a caller asks for and skips
/// the rest without building them.
///
/// It checks the structure it walks through (brackets, strings, escapes, literals) but, like any
/// skipper, does not fully validate the numbers inside skipped values.
public struct JSONScanner {
    /// Nesting deeper than this is refused rather than followed.
    public static let maxDepth = 256

    let bytes: UnsafeRawBufferPointer
    /// `bytes.count`, kept: in a large inlined reader the optimizer may call the getter instead.
    let end: Int
    /// The offset of the next unread byte.
    public internal(set) var position = 0

    public init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        end = bytes.count
    }

    /// A scanner that starts at `position` in `bytes` (offsets it reports stay those of `bytes`).
    public init(_ bytes: UnsafeRawBufferPointer, at position: Int) {
        self.bytes = bytes
        end = bytes.count
        self.position = min(max(0, position), end)
    }

    /// Walks the members of the object at the current position, calling `body` with each key;
    /// `body` must consume the member's value (read it or skip it).
    @inline(__always)
    public mutating func forEachMember(
        _ body: (JSONKey, inout JSONScanner) throws(JSONScanError) -> Void
    ) throws(JSONScanError) {
        skipWhitespace()
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peekByte() == UInt8(ascii: "}") {
            position += 1
            return
        }
        while true {
            skipWhitespace()
            let key = try scanString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try body(JSONKey(bytes: UnsafeRawBufferPointer(rebasing: bytes[key.range]), hasEscapes: key.hasEscapes), &self)
            skipWhitespace()
            switch peekByte() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return
            default: throw error("expected ',' or '}' after an object member")
            }
        }
    }

    /// Reads an integer that fits in `Int`.
    public mutating func readInteger() throws(JSONScanError) -> Int {
        skipWhitespace()
        let negative = peekByte() == UInt8(ascii: "-")
        if negative { position += 1 }
        let start = position
        var value = 0
        while let byte = peekByte(), byte &- UInt8(ascii: "0") < 10 {
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(Int(byte &- UInt8(ascii: "0")))
            guard !overflow1, !overflow2 else { throw error("integer out of range") }
            value = added
            position += 1
        }
        guard position > start else { throw error("expected an integer") }
        guard position - start == 1 || bytes[start] != UInt8(ascii: "0") else { throw error("leading zero in an integer") }
        if let byte = peekByte(), byte == UInt8(ascii: ".") || byte | 0x20 == UInt8(ascii: "e") {
            throw error("expected an integer, found a fraction or exponent")
        }
        return negative ? -value : value
    }

    /// Walks the elements of the array at the current position; `body` must consume each one.
    public mutating func forEachElement(_ body: (inout JSONScanner) throws(JSONScanError) -> Void) throws(JSONScanError) {
        skipWhitespace()
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peekByte() == UInt8(ascii: "]") {
            position += 1
            return
        }
        while true {
            try body(&self)
            skipWhitespace()
            switch peekByte() {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return
            default: throw error("expected ',' or ']' in an array")
            }
        }
    }

    /// Reads `true` or `false`; any other value (`null`, or one of the wrong kind) is consumed and
    /// reads as nil: for a flag whose absence means "not said" rather than "not set".
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public mutating func readOptionalBool() throws(JSONScanError) -> Bool? {
        skipWhitespace()
        switch peekByte() {
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return try readBool()
        default: try skipValue(depth: 0); return nil
        }
    }

    /// Reads `true` or `false`; any other value (`null`, or one of the wrong kind) is consumed and
    /// reads as false: a flag Kamii cannot read is a flag not set, never a broken payload.
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public mutating func readBool() throws(JSONScanError) -> Bool {
        skipWhitespace()
        switch peekByte() {
        case UInt8(ascii: "t"): try expectLiteral("true"); return true
        case UInt8(ascii: "f"): try expectLiteral("false"); return false
        default: try skipValue(depth: 0); return false
        }
    }

    /// Reads an integer that fits in `Int`; any other value (a string, a fraction, `null`, one
    /// out of range) is consumed and gives nil.
    /// - Throws: ``JSONScanError`` only when the bytes are not JSON.
    public mutating func readLenientInteger() throws(JSONScanError) -> Int? {
        skipWhitespace()
        let start = position
        try skipValue(depth: 0)
        var value = 0
        var index = start
        let negative = index < position && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        guard index < position, position - index <= 18, bytes[index] != UInt8(ascii: "0") || position - index == 1 else { return nil }
        while index < position {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
            index += 1
        }
        return negative ? -value : value
    }

    /// Consumes `null` and returns true, or returns false leaving any other value unread.
    public mutating func readNull() throws(JSONScanError) -> Bool {
        skipWhitespace()
        guard peekByte() == UInt8(ascii: "n") else { return false }
        try expectLiteral("null")
        return true
    }

    /// Reads a string value, decoding its escapes.
    public mutating func readString() throws(JSONScanError) -> String {
        skipWhitespace()
        let scanned = try scanString()
        let raw = UnsafeRawBufferPointer(rebasing: bytes[scanned.range])
        guard scanned.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        return try JSONEscapes.decode(raw, at: scanned.range.lowerBound)
    }

    /// Reads a string value without decoding it: where its bytes are (between the quotes) and
    /// whether they hold escapes. Nothing is allocated.
    public mutating func readRawString() throws(JSONScanError) -> JSONRawString {
        skipWhitespace()
        let scanned = try scanString()
        return JSONRawString(range: scanned.range, hasEscapes: scanned.hasEscapes)
    }

    /// Reads a snowflake as Discord sends one: a string of decimal digits. `null` gives nil; any
    /// other value (a number, an escaped or non-numeric string) is consumed and gives nil too.
    public mutating func readSnowflake() throws(JSONScanError) -> UInt64? {
        skipWhitespace()
        guard peekByte() == UInt8(ascii: "\"") else {
            try skipValue(depth: 0)
            return nil
        }
        let scanned = try scanString()
        guard !scanned.hasEscapes, !scanned.range.isEmpty, scanned.range.count <= 20 else { return nil }
        var index = scanned.range.lowerBound
        let end = scanned.range.upperBound
        var value: UInt64 = 0
        // Up to 19 digits cannot overflow; the 20th is checked below. Eight at a time while they last.
        let fast = end - (scanned.range.count == 20 ? 1 : 0)
        let base = bytes.baseAddress!
        while index + 8 <= fast {
            guard let eight = Self.eightDigits(UInt64(littleEndian: (base + index).loadUnaligned(as: UInt64.self))) else { return nil }
            value = value &* 100_000_000 &+ eight
            index += 8
        }
        while index < fast {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value &* 10 &+ UInt64(digit)
            index += 1
        }
        if fast < end {
            let digit = bytes[fast] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (added, overflow2) = shifted.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            value = added
        }
        return value
    }

    /// The value of eight ASCII digits loaded little-endian (the first digit in the lowest byte), or
    /// nil when any byte is not a digit. Pairs, then fours, then the eight are combined by
    /// multiplications on the whole word.
    @inline(__always)
    static func eightDigits(_ word: UInt64) -> UInt64? {
        let digits = word &- 0x3030_3030_3030_3030
        // Every byte a digit: each was at least '0' (no borrow into the high nibble) and at most '9'.
        guard (word & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030,
              ((word &+ 0x0606_0606_0606_0606) & 0xF0F0_F0F0_F0F0_F0F0) == 0x3030_3030_3030_3030
        else { return nil }
        let pairs = (digits &* 10 &+ (digits >> 8)) & 0x00FF_00FF_00FF_00FF
        let fours = (pairs &* 100 &+ (pairs >> 16)) & 0x0000_FFFF_0000_FFFF
        return (fours &* 10_000 &+ (fours >> 32)) & 0xFFFF_FFFF
    }

    /// Lends the bytes being scanned (to decode a value found in them).
    public func withBytes<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        body(bytes)
    }

    /// Skips whitespace and returns the next byte without consuming it (nil at the end).
    public mutating func peekValueStart() -> UInt8? {
        skipWhitespace()
        return peekByte()
    }

    /// Skips one value of any kind and returns the range of bytes it spans.
    @discardableResult
    @inline(__always)
    public mutating func skipValue() throws(JSONScanError) -> Range<Int> {
        skipWhitespace()
        let start = position
        if try !skipCommonValue() { try skipValue(depth: 0) }
        return start..<position
    }

    /// Skips the values most members hold — a string, `null`, `false`, `true`, `[]`, `{}`, a
    /// non-negative number — without the general walk's call and jump table. Returns false, having
    /// consumed nothing, for any other value (and near the end of the bytes).
    @inline(__always)
    private mutating func skipCommonValue() throws(JSONScanError) -> Bool {
        guard position + 8 <= end else { return false }
        let word = UInt64(littleEndian: (bytes.baseAddress! + position).loadUnaligned(as: UInt64.self))
        // The literals as little-endian words: "null", "true", "false".
        switch UInt8(truncatingIfNeeded: word) {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "n"):
            guard word & 0xFFFF_FFFF == 0x6C6C_756E else { return false }
            position += 4
        case UInt8(ascii: "f"):
            guard word & 0xFF_FFFF_FFFF == 0x65_736C_6166 else { return false }
            position += 5
        case UInt8(ascii: "t"):
            guard word & 0xFFFF_FFFF == 0x6575_7274 else { return false }
            position += 4
        case UInt8(ascii: "["):
            guard UInt8(truncatingIfNeeded: word >> 8) == UInt8(ascii: "]") else { return false }
            position += 2
        case UInt8(ascii: "{"):
            guard UInt8(truncatingIfNeeded: word >> 8) == UInt8(ascii: "}") else { return false }
            position += 2
        case UInt8(ascii: "0")...UInt8(ascii: "9"):
            position += 1
            while let next = peekByte(), Self.isNumberByte(next) { position += 1 }
        default:
            return false
        }
        return true
    }

    private mutating func skipValue(depth: Int) throws(JSONScanError) {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        skipWhitespace()
        guard let byte = peekByte() else { throw error("expected a value, found the end of the payload") }
        switch byte {
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "{"):
            try forEachMember { _, scanner throws(JSONScanError) in try scanner.skipNested(depth: depth + 1) }
        case UInt8(ascii: "["):
            position += 1
            skipWhitespace()
            if peekByte() == UInt8(ascii: "]") { position += 1; return }
            while true {
                try skipNested(depth: depth + 1)
                skipWhitespace()
                switch peekByte() {
                case UInt8(ascii: ","): position += 1
                case UInt8(ascii: "]"): position += 1; return
                default: throw error("expected ',' or ']' in an array")
                }
            }
        case UInt8(ascii: "t"): try expectLiteral("true")
        case UInt8(ascii: "f"): try expectLiteral("false")
        case UInt8(ascii: "n"): try expectLiteral("null")
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            position += 1
            while let next = peekByte(), Self.isNumberByte(next) { position += 1 }
        default:
            throw error("unexpected byte 0x\(String(byte, radix: 16)) where a value should start")
        }
    }

    /// Skips a value nested at `depth`: the common ones without the general walk, while the depth
    /// is within the limit (beyond it, the general walk refuses even a scalar).
    @inline(__always)
    private mutating func skipNested(depth: Int) throws(JSONScanError) {
        skipWhitespace()
        var skipped = false
        if depth < Self.maxDepth { skipped = try skipCommonValue() }
        if !skipped { try skipValue(depth: depth) }
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"),
             UInt8(ascii: "+"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// Consumes `null`, `true` or `false` (their first four bytes compared as one word).
    @inline(__always)
    private mutating func expectLiteral(_ literal: StaticString) throws(JSONScanError) {
        let count = literal.utf8CodeUnitCount
        guard count >= 4, position + count <= end,
              (bytes.baseAddress! + position).loadUnaligned(as: UInt32.self) == UnsafeRawPointer(literal.utf8Start).loadUnaligned(as: UInt32.self),
              memcmpEqual(bytes.baseAddress! + position + 4, literal.utf8Start + 4, count - 4)
        else { throw error("invalid literal, expected \(literal)") }
        position += count
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8) throws(JSONScanError) {
        guard peekByte() == byte else { throw error("expected '\(Character(Unicode.Scalar(byte)))'") }
        position += 1
    }

    @inline(__always)
    private func peekByte() -> UInt8? {
        position < end ? bytes[position] : nil
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while position < end {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    /// Checks that nothing but whitespace follows the value just read.
    public mutating func expectEnd() throws(JSONScanError) {
        skipWhitespace()
        guard position == end else { throw error("unexpected bytes after the payload") }
    }

    /// An error at the current position.
    public func error(_ message: String) -> JSONScanError {
        JSONScanError(offset: min(position, end), message: message)
    }
}
