import DiscordModels
import Testing

/// Which configured karma emoji a reaction is.
struct ReactionEmojiTests {
    func matches(_ emoji: String, _ configured: String) throws -> Bool {
        let text = #"{"user_id":"11","message_id":"12","channel_id":"13","guild_id":"14","emoji":\#(emoji)}"#
        let bytes = Array(text.utf8)
        let fields = try bytes.withUnsafeBytes { raw throws(JSONScanError) in try ReactionFields.scan(raw) }
        return bytes.withUnsafeBytes { fields.emojiMatches(configured, in: $0) }
    }

    @Test func aCustomEmojiIsKnownByItsID() throws {
        #expect(try matches(#"{"id":"123","name":"pog"}"#, "pog:123"))
        #expect(try matches(#"{"id":"123","name":"pog"}"#, "pog"))
        #expect(try matches(#"{"id":"123","name":null}"#, "pog:123"), "deleted since: the name is null")
        #expect(try matches(#"{"id":"123","name":"pogchamp"}"#, "pog:123"), "renamed since")
        #expect(try !matches(#"{"id":"123","name":null}"#, "pog"), "a bare name needs the name")
        #expect(try !matches(#"{"id":"124","name":"pog"}"#, "pog:123"))
        #expect(try matches(#"{"id":null,"name":"👍"}"#, "👍") && !matches(#"{"id":null,"name":"👍"}"#, "👎"))
    }

    /// A `name` given twice counts as given last, as a JSON parser reads it: a later null or
    /// non-string leaves no name.
    @Test func aNameGivenTwiceCountsAsGivenLast() throws {
        #expect(try !matches(#"{"id":null,"name":"👍","name":null}"#, "👍"))
        #expect(try !matches(#"{"id":null,"name":"👍","name":7}"#, "👍"))
        #expect(try !matches(#"{"id":null,"name":"👍","name":{"a":"👍"}}"#, "👍"))
        #expect(try matches(#"{"id":null,"name":null,"name":"👍"}"#, "👍"))
        #expect(try matches(#"{"id":null,"name":"👎","name":"👍"}"#, "👍"))
    }

    /// Discord sends the variant a member chose; the admin listed the plain emoji (or the other way round).
    @Test func aUnicodeEmojiMatchesInAnySkinToneAndPresentation() throws {
        #expect(try matches(#"{"id":null,"name":"👍🏽"}"#, "👍"), "medium skin tone")
        #expect(try matches(#"{"id":null,"name":"👍"}"#, "👍🏿"))
        #expect(try matches(#"{"id":null,"name":"❤️"}"#, "❤"), "with U+FE0F")
        #expect(try matches(#"{"id":null,"name":"\u2764"}"#, "❤️"), "escaped, without U+FE0F")
        #expect(try !matches(#"{"id":null,"name":"👎🏽"}"#, "👍"))
        #expect(try !matches(#"{"id":null,"name":"🏽"}"#, "👍"), "a lone modifier is no thumb")
        #expect(try !matches(#"{"id":null,"name":"\ufe0f"}"#, "\u{FE0E}"), "nothing left on either side is no match")
        #expect(try !matches(#"{"id":null,"name":"👨‍👩‍👧"}"#, "👨"), "a sequence is not its first emoji")
    }

    /// `burst` or `type` 1 says a super reaction; a key given twice counts as given last.
    @Test func aSuperReactionIsReadFromEitherFieldTheLastOfEachCounting() throws {
        func isBurst(_ extra: String) throws -> Bool {
            let bytes = Array(#"{"user_id":"11","message_id":"12","channel_id":"13","emoji":{"id":null,"name":"👍"}\#(extra)}"#.utf8)
            return try bytes.withUnsafeBytes { raw throws(JSONScanError) in try ReactionFields.scan(raw) }.isBurst
        }
        #expect(try isBurst(#","burst":true"#) && isBurst(#","type":1"#) && isBurst(#","burst":false,"type":1"#))
        #expect(try !isBurst(#","burst":true,"burst":false"#) && !isBurst(#","type":1,"type":0"#) && !isBurst(""))
        #expect(try isBurst(#","burst":false,"burst":true"#))
    }
}
