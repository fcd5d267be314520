import DiscordModels

/// JSON written straight into bytes: literal pieces, decimal numbers and quoted snowflakes
/// appended without building intermediate Strings — the simulator renders hundreds of thousands
/// of payloads a second.
struct JSONBytes {
    var bytes: [UInt8] = []

    init(capacity: Int = 1_024) {
        bytes.reserveCapacity(capacity)
    }

    /// Appends text that is already valid JSON (or a JSON-safe string body).
    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends a string's UTF-8 as is: callers pass text without quotes, backslashes or control
    /// characters (generated names, hashes, emoji).
    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func raw(_ other: [UInt8]) {
        bytes.append(contentsOf: other)
    }

    mutating func int<Value: BinaryInteger>(_ value: Value) {
        var magnitude = UInt64(value.magnitude)
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        guard magnitude > 0 else {
            bytes.append(UInt8(ascii: "0"))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            while magnitude > 0 {
                buffer[count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) { bytes.append(buffer[index]) }
        }
    }

    /// A snowflake as Discord sends it: a quoted decimal string.
    mutating func id<Tag>(_ id: Snowflake<Tag>) {
        bytes.append(UInt8(ascii: "\""))
        int(id.rawValue)
        bytes.append(UInt8(ascii: "\""))
    }

    /// A quoted ISO 8601 timestamp in Discord's form, `2026-11-30T03:28:57.123000+00:00`.
    mutating func timestamp(unixMilliseconds: UInt64) {
        let seconds = Int(unixMilliseconds / 1000)
        let (year, month, day) = DiscordTimestamp.civilDate(daysSinceUnixEpoch: seconds / 86_400)
        let secondOfDay = seconds % 86_400
        bytes.append(UInt8(ascii: "\""))
        int(year)
        bytes.append(UInt8(ascii: "-"))
        twoDigits(month)
        bytes.append(UInt8(ascii: "-"))
        twoDigits(day)
        bytes.append(UInt8(ascii: "T"))
        twoDigits(secondOfDay / 3600)
        bytes.append(UInt8(ascii: ":"))
        twoDigits(secondOfDay / 60 % 60)
        bytes.append(UInt8(ascii: ":"))
        twoDigits(secondOfDay % 60)
        bytes.append(UInt8(ascii: "."))
        let milliseconds = Int(unixMilliseconds % 1000)
        bytes.append(UInt8(ascii: "0") + UInt8(milliseconds / 100))
        twoDigits(milliseconds % 100)
        raw("000+00:00\"")
    }

    private mutating func twoDigits(_ value: Int) {
        bytes.append(UInt8(ascii: "0") + UInt8(value / 10))
        bytes.append(UInt8(ascii: "0") + UInt8(value % 10))
    }
}
