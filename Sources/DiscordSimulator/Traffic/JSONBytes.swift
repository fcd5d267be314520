import DiscordModels

/// JSON written straight into bytes: literal pieces, decimal numbers and quoted snowflakes
/// appended without building intermediate Strings — the simulator renders hundreds of thousands
/// of payloads a second.
struct JSONBytes {
    var bytes: [UInt8] = []

    init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    /// Empties the buffer and keeps its capacity.
    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
    }

    /// Appends text that is already valid JSON (or a JSON-safe string body).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends a string's UTF-8 as is: callers pass text without quotes, backslashes or control
    /// characters (generated names, hashes, emoji).
    mutating func raw(_ text: String) {
        // Through its contiguous UTF-8 (on the stack for a small string): appending the UTF-8
        // view takes a slower, general path.
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    mutating func raw(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    mutating func raw(_ other: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: other)
    }

    mutating func int<Value: BinaryInteger>(_ value: Value) {
        var magnitude = UInt64(value.magnitude)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // Digits go right to left into a stack buffer, then into the array in one append.
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Any text as a JSON string literal, escaped.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0..<0x20:
                raw("\\u00")
                let digits: StaticString = "0123456789abcdef"
                digits.withUTF8Buffer { hex in
                    bytes.append(hex[Int(byte >> 4)])
                    bytes.append(hex[Int(byte & 0xF)])
                }
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A snowflake as Discord sends it: a quoted decimal string.
    mutating func id<Tag>(_ id: Snowflake<Tag>) {
        bytes.append(UInt8(ascii: "\""))
        int(id.rawValue)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Snowflakes separated by commas (the inside of a JSON array).
    mutating func ids<Tag>(_ ids: [Snowflake<Tag>]) {
        for (index, id) in ids.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            self.id(id)
        }
    }

    /// A quoted ISO 8601 timestamp in Discord's form, `2026-11-30T03:28:57.123000+00:00`.
    mutating func timestamp(unixMilliseconds: UInt64) {
        let seconds = Int(unixMilliseconds / 1000)
        let (year, month, day) = DiscordTimestamp.civilDate(daysSinceUnixEpoch: seconds / 86_400)
        let secondOfDay = seconds % 86_400
        let milliseconds = Int(unixMilliseconds % 1000)
        guard (0...9_999).contains(year) else { return raw("\"0000-01-01T00:00:00.000000+00:00\"") }
        // Formatted in a stack buffer, then appended at once.
        var text: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &text) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for index in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            let template: StaticString = "\"0000-00-00T00:00:00.000000+00:00\""
            template.withUTF8Buffer { UnsafeMutableRawBufferPointer(rebasing: buffer[0..<$0.count]).copyMemory(from: UnsafeRawBufferPointer($0)) }
            put(year, 4, at: 1)
            put(month, 2, at: 6)
            put(day, 2, at: 9)
            put(secondOfDay / 3600, 2, at: 12)
            put(secondOfDay / 60 % 60, 2, at: 15)
            put(secondOfDay % 60, 2, at: 18)
            put(milliseconds, 3, at: 21)
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[0..<34]))
        }
    }
}
