import Foundation
import Testing
import DiscordModels

/// Random envelopes — any key order, whitespace, escapes, nesting — peeked and compared with a
/// full decode by Foundation's JSONSerialization.
@Suite struct EnvelopePropertyTests {
    private func canonical(_ value: Any) throws -> Data {
        try JSONSerialization.data(withJSONObject: [value], options: [.sortedKeys])
    }

    @Test func peekAgreesWithAFullDecode() throws {
        var random = RandomJSON(state: 0x4B41_4D49)
        for _ in 0..<2_000 {
            var members = [
                "\"op\":" + random.space() + String(random.next(12)),
                "\"d\":" + random.space() + random.value(depth: 0),
                "\"s\":" + (random.next(4) == 0 ? "null" : String(random.next(1_000_000))),
                "\"t\":" + (random.next(4) == 0 ? "null" : random.string()),
            ]
            if random.next(2) == 0 { members.append("\"extra\":" + random.value(depth: 0)) }
            for index in members.indices.reversed() { members.swapAt(index, random.next(index + 1)) }
            let text = random.space() + "{" + members.map { random.space() + $0 + random.space() }.joined(separator: ",") + "}"
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
