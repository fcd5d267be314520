import Testing
@testable import DiscordSimulator

/// A message body is judged by Discord's documented limits.
struct MessageValidationTests {
    /// The field errors (path: code) a body gets; [] when it passes; ["50006"] when it is empty.
    func errors(_ fields: [String: Any], emptyAllowed: Bool = false) -> [String] {
        do {
            try MessageValidation.check(fields, emptyAllowed: emptyAllowed)
            return []
        } catch {
            return error.fieldErrors.isEmpty ? [String(error.code)] : error.fieldErrors.map { "\($0.path): \($0.code)" }
        }
    }

    @Test func embedTextsAreCountedTrimmedAndEachHasItsLimit() {
        let padded = "  " + String(repeating: "t", count: 256) + "\n "
        #expect(errors(["embeds": [["title": padded]]]) == [], "leading and trailing whitespace is not counted")
        #expect(errors(["embeds": [["footer": ["text": String(repeating: "f", count: 2_049)]]]]) == ["embeds.0.footer.text: BASE_TYPE_MAX_LENGTH"])
        #expect(errors(["embeds": [["author": ["name": String(repeating: "a", count: 257)]]]]) == ["embeds.0.author.name: BASE_TYPE_MAX_LENGTH"])
        let big = String(repeating: "d", count: 4_000)
        #expect(errors(["embeds": [["description": big], ["description": big]]]) == ["embeds: MAX_EMBED_SIZE_EXCEEDED"])
    }

    @Test func allowedMentionsParseExcludesItsOwnList() {
        #expect(errors(["content": "x", "allowed_mentions": ["parse": ["users"], "roles": ["1"]]]) == [])
        #expect(errors(["content": "x", "allowed_mentions": ["parse": ["roles"], "roles": ["1"]]]) == ["allowed_mentions: MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"])
        #expect(errors(["content": "x", "allowed_mentions": ["parse": ["users"], "users": ["1"]]]) == ["allowed_mentions: MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE"])
        let many = (0..<101).map { String($0 + 1) }
        #expect(errors(["content": "x", "allowed_mentions": ["roles": many]]) == ["allowed_mentions.roles: BASE_TYPE_MAX_LENGTH"])
    }

    @Test func onlyAnEditMayBeEmpty() {
        #expect(errors([:]) == ["50006"])
        #expect(errors([:], emptyAllowed: true) == [])
        #expect(errors(["content": String(repeating: "c", count: 2_001)], emptyAllowed: true) == ["content: BASE_TYPE_MAX_LENGTH"])
    }

    /// Lengths are code points, as Discord counts them: 👍🏽 is two, 🇫🇷 is two.
    @Test func lengthsAreCountedInCodePoints() {
        #expect(errors(["content": String(repeating: "👍🏽", count: 1_000)]) == [])
        #expect(errors(["content": String(repeating: "👍🏽", count: 1_001)]) == ["content: BASE_TYPE_MAX_LENGTH"], "1,001 to a reader, 2,002 to Discord")
        #expect(errors(["embeds": [["title": String(repeating: "🇫🇷", count: 129)]]]) == ["embeds.0.title: BASE_TYPE_MAX_LENGTH"])
    }
}
