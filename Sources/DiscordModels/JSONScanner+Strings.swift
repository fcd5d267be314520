import CStringScan

/// Strings: most of a payload, so the scanner's hottest part (sixteen bytes at a time, the rare
/// cases out of line).
extension JSONScanner {
    /// Moves past a string starting at the current `"`; returns the range between the quotes.
    ///
    /// Inlined, for most of a payload is strings and most strings are plain: those end here. A
    /// string with an escape, or whose last bytes do not fill a word, is finished out of line.
    @inline(__always)
    mutating func scanString() throws(JSONScanError) -> (range: Range<Int>, hasEscapes: Bool) {
        guard position < end, bytes[position] == UInt8(ascii: "\"") else { throw error("expected '\"'") }
        let start = position + 1
        let run = skipPlainContent(from: start)
        guard run.closed else { return try finishString(start: start, from: run.index) }
        position = run.index + 1
        return (start..<run.index, false)
    }

    /// Skips plain string content from `start`, sixteen bytes at a time, then a word at a time
    /// where fewer than sixteen are left. Returns where the first quote, backslash or control byte
    /// is, or where the last whole word ended, and whether that byte is a quote.
    @inline(__always)
    func skipPlainContent(from start: Int) -> (index: Int, closed: Bool) {
        let base = bytes.baseAddress!
        var index = start
        while index + 16 <= end {
            let specials = kamii_string_specials16(base + index)
            if specials != 0 {
                index += specials.trailingZeroBitCount
                return (index, base.load(fromByteOffset: index, as: UInt8.self) == UInt8(ascii: "\""))
            }
            index += 16
        }
        while index + 8 <= end {
            let word = UInt64(littleEndian: (base + index).loadUnaligned(as: UInt64.self))
            let (quotes, special) = Self.specialStringBytes(in: word)
            if special != 0 {
                return (index + special.trailingZeroBitCount >> 3, quotes & special & (0 &- special) != 0)
            }
            index += 8
        }
        return (index, false)
    }

    /// Finishes a string begun at `start` whose plain content reaches `index`: escapes, control
    /// characters, the bytes past the last whole word.
    @inline(never)
    mutating func finishString(start: Int, from index: Int) throws(JSONScanError) -> (range: Range<Int>, hasEscapes: Bool) {
        var index = index
        var hasEscapes = false
        while true {
            guard index < end else {
                position = index
                throw error("unterminated string")
            }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                position = index + 1
                return (start..<index, hasEscapes)
            case UInt8(ascii: "\\"):
                hasEscapes = true
                position = index
                try skipEscape()
                index = position
            case ..<0x20:
                position = index
                throw error("unescaped control character in a string")
            default:
                index += 1
            }
            let run = skipPlainContent(from: index)
            index = run.index
            if run.closed {
                position = index + 1
                return (start..<index, hasEscapes)
            }
        }
    }

    /// Moves past one escape sequence (at a backslash), checking it is one JSON allows.
    mutating func skipEscape() throws(JSONScanError) {
        guard position + 1 < end else { throw error("unterminated string") }
        switch bytes[position + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            position += 2
        case UInt8(ascii: "u"):
            guard position + 6 <= end,
                  (position + 2..<position + 6).allSatisfy({ Self.isHexDigit(bytes[$0]) })
            else { throw error("invalid \\u escape") }
            position += 6
        default:
            throw error("invalid escape in a string")
        }
    }

    static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"): true
        default: false
        }
    }

    /// Masks with the high bit set in the bytes of `word` that are quotes, and in those that are a
    /// quote, a backslash or a control character (SWAR "has byte" tests). Bits above the lowest
    /// match may be spurious, which is fine: only the lowest one is used, and it is exact in both.
    @inline(__always)
    static func specialStringBytes(in word: UInt64) -> (quotes: UInt64, special: UInt64) {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highBits: UInt64 = 0x8080_8080_8080_8080
        let quotes = word ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let backslashes = word ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let isQuote = (quotes &- ones) & ~quotes & highBits
        let isBackslash = (backslashes &- ones) & ~backslashes
        let isControl = (word &- ones &* 0x20) & ~word
        return (isQuote, isQuote | ((isBackslash | isControl) & highBits))
    }
}
