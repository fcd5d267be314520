import Foundation
import Testing
import DiscordModels

/// Random envelopes — any key order, whitespace, escapes, nesting — peeked and compared with a
/// full decode by Foundation's JSONSerialization.
@Suite struct EnvelopePropertyTests {
    private struct Random {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
    }

    private static let stringPieces = ["a", "MESSAGE_CREATE", "\\\"", "\\\\", "\\n", "\\u00e9", "\\ud83d\\ude00", "é", "}", "]", ",", ":", " ", "\\/"]

    private func string(_ random: inout Random) -> String {
        "\"" + (0..<random.next(6)).map { _ in Self.stringPieces[random.next(Self.stringPieces.count)] }.joined() + "\""
    }

    private func space(_ random: inout Random) -> String {
        ["", "", " ", "\n", "\t ", "\r\n"][random.next(6)]
    }

    private func value(_ random: inout Random, depth: Int) -> String {
        let kind = depth > 4 ? random.next(5) : random.next(7)
        switch kind {
        case 0: return string(&random)
        case 1: return ["0", "-12", "3.25", "1e9", "-0.5E-3", "184467440737095"][random.next(6)]
        case 2: return ["true", "false", "null"][random.next(3)]
        case 3: return "[]"
        case 4: return "{}"
        case 5:
            let items = (0..<random.next(4)).map { _ in space(&random) + value(&random, depth: depth + 1) + space(&random) }
            return "[" + items.joined(separator: ",") + "]"
        default:
            // Sometimes the keys the envelope picks out of `d` (at any depth: only the top ones count).
            let members = (0..<random.next(5)).map { index in
                let key = index < 2 && random.next(2) == 0 ? ["guild_id", "id"][index] : "k\(index)"
                let member = key == "k\(index)" || random.next(3) == 0 ? value(&random, depth: depth + 1) : snowflake(&random)
                return space(&random) + "\"\(key)\"" + space(&random) + ":" + space(&random) + member
            }
            return "{" + members.joined(separator: ",") + "}"
        }
    }

    /// A snowflake string as Discord sends one, or once in a while one that overflows 64 bits.
    private func snowflake(_ random: inout Random) -> String {
        random.next(10) == 0 ? "\"99999999999999999999\"" : "\"\(UInt64(random.next(1 << 30)) << 22 | UInt64(random.next(1 << 22)))\""
    }

    private func canonical(_ value: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
    }

    @Test func peekAgreesWithAFullDecode() throws {
        var random = Random(state: 0x4B41_4D49)
        for _ in 0..<2_000 {
            var members = [
                "\"op\":" + space(&random) + String(random.next(12)),
                "\"d\":" + space(&random) + value(&random, depth: 0),
                "\"s\":" + (random.next(4) == 0 ? "null" : String(random.next(1_000_000))),
                "\"t\":" + (random.next(4) == 0 ? "null" : string(&random)),
            ]
            if random.next(2) == 0 { members.append("\"extra\":" + value(&random, depth: 0)) }
            for index in members.indices.reversed() { members.swapAt(index, random.next(index + 1)) }
            let text = space(&random) + "{" + members.map { space(&random) + $0 + space(&random) }.joined(separator: ",") + "}"
            let bytes = Array(text.utf8)

            let full = try #require(try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) as? [String: Any])
            let envelope = try GatewayEnvelope.peek(bytes)
            #expect(envelope.opcode.rawValue == full["op"] as? Int, "\(text)")
            #expect(envelope.sequence == full["s"] as? Int, "\(text)")
            #expect(envelope.eventName == full["t"] as? String, "\(text)")
            let range = try #require(envelope.dataRange)
            let data = try JSONSerialization.jsonObject(with: Data(bytes[range]), options: [.fragmentsAllowed])
            #expect(try canonical(data) == canonical(try #require(full["d"])), "\(text)")
            let d = full["d"] as? [String: Any]
            #expect(envelope.dataGuildID == (d?["guild_id"] as? String).flatMap { UInt64($0) }, "\(text)")
            #expect(envelope.dataID == (d?["id"] as? String).flatMap { UInt64($0) }, "\(text)")
        }
    }
}
