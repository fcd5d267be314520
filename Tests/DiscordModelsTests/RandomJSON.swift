/// Seeded random JSON text for the property tests: any key order, whitespace, escapes, nesting.
struct RandomJSON {
    var state: UInt64

    mutating func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(bound))
    }

    mutating func chance(_ oneIn: Int) -> Bool { next(oneIn) == 0 }

    private static let stringPieces = ["a", "MESSAGE_CREATE", "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "é", "}", "]", ",", ":", " ", "\\/"]

    mutating func string() -> String {
        "\"" + (0..<next(6)).map { _ in Self.stringPieces[next(Self.stringPieces.count)] }.joined() + "\""
    }

    mutating func space() -> String {
        ["", "", " ", "\n", "\t ", "\r\n"][next(6)]
    }

    /// Any JSON value; nested objects sometimes use `decoyKeys` (with snowflake values), which a
    /// scanner reading only the top level must not pick up.
    mutating func value(depth: Int, decoyKeys: [String] = ["guild_id", "id"]) -> String {
        let kind = depth > 4 ? next(5) : next(7)
        switch kind {
        case 0: return string()
        case 1: return ["0", "-12", "3.25", "1e9", "-0.5E-3", "184467440737095"][next(6)]
        case 2: return ["true", "false", "null"][next(3)]
        case 3: return "[]"
        case 4: return "{}"
        case 5:
            let items = (0..<next(4)).map { _ in space() + value(depth: depth + 1, decoyKeys: decoyKeys) + space() }
            return "[" + items.joined(separator: ",") + "]"
        default:
            let members = (0..<next(5)).map { index in
                let key = index < decoyKeys.count && chance(2) ? decoyKeys[index] : "k\(index)"
                let member = key == "k\(index)" || chance(3) ? value(depth: depth + 1, decoyKeys: decoyKeys) : snowflake()
                return space() + "\"\(key)\"" + space() + ":" + space() + member
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// A snowflake string as Discord sends one, or once in a while one that overflows 64 bits.
    mutating func snowflake() -> String {
        chance(10) ? "\"99999999999999999999\"" : "\"\(UInt64(next(1 << 30)) << 22 | UInt64(next(1 << 22)))\""
    }

    /// An object of `members` (key → value text) in random order with whitespace, each key
    /// sometimes written with a `\u` escape.
    mutating func object(_ members: [(key: String, value: String)]) -> String {
        var members = members
        for index in members.indices.reversed() { members.swapAt(index, next(index + 1)) }
        let parts = members.map { member in
            space() + "\"" + escapedKey(member.key) + "\"" + space() + ":" + space() + member.value + space()
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    private mutating func escapedKey(_ key: String) -> String {
        guard chance(8), let first = key.unicodeScalars.first else { return key }
        let hex = String(first.value, radix: 16)
        return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex + String(key.unicodeScalars.dropFirst())
    }
}
