import Testing
import DiscordModels

@Suite struct GatewayEnvelopeTests {
    @Test func readsADispatch() throws {
        let payload = #"{"t":"MESSAGE_CREATE","s":42,"op":0,"d":{"content":"}\"{","id":"1"}}"#
        let envelope = try GatewayEnvelope.peek(Array(payload.utf8))
        #expect(envelope.opcode == .dispatch)
        #expect(envelope.sequence == 42)
        #expect(envelope.eventName == "MESSAGE_CREATE")
        let range = try #require(envelope.dataRange)
        #expect(String(decoding: Array(payload.utf8)[range], as: UTF8.self) == #"{"content":"}\"{","id":"1"}"#)
    }

    @Test func readsControlOpcodesWithNulls() throws {
        let envelope = try GatewayEnvelope.peek(Array(#" { "op" : 11 , "d" : null , "s" : null , "t" : null } "#.utf8))
        #expect(envelope.opcode == .heartbeatAck)
        #expect(envelope.sequence == nil)
        #expect(envelope.eventName == nil)
        #expect(envelope.dataRange != nil)
    }

    /// Hot events are found by their bytes; an escaped name is decoded first, and still found.
    @Test func hotEventsAreKnownByNameEscapedOrNot() throws {
        for (name, event) in [("MESSAGE_CREATE", HotEvent.messageCreate), ("MESSAGE\\u005fREACTION_ADD", .reactionAdd), ("GUILD_MEMBER_REMOVE", .memberRemove)] {
            let envelope = try GatewayEnvelope.peek(Array(#"{"t":"\#(name)","s":1,"op":0,"d":null}"#.utf8))
            #expect(envelope.hotEvent == event && envelope.eventName == event.name)
        }
        let other = try GatewayEnvelope.peek(Array(#"{"t":"MESSAGE_CREATED","s":1,"op":0,"d":null}"#.utf8))
        #expect(other.hotEvent == nil && other.eventName == "MESSAGE_CREATED")
    }

    @Test func keepsUnknownOpcodes() throws {
        #expect(try GatewayEnvelope.peek(Array(#"{"op":99}"#.utf8)).opcode == .unknown(99))
        #expect(GatewayOpcode(rawValue: 99).rawValue == 99)
    }

    @Test func decodesEscapedKeysAndNames() throws {
        let envelope = try GatewayEnvelope.peek(Array(#"{"\u006fp":0,"t":"A\u00e9\ud83d\ude00\n","s":1}"#.utf8))
        #expect(envelope.opcode == .dispatch)
        #expect(envelope.eventName == "Aé😀\n")
    }

    @Test(arguments: [
        "", "[]", "{", #"{"op":"0"}"#, #"{"op":1.5}"#, #"{"op":0,"d":{"a":[1,2}}"#, #"{"op":0,"t":"abc}"#,
        #"{"d":null}"#, #"{"op":0,"t":"\x"}"#, #"{"op":0 "s":1}"#, #"{"op":0,"d":tru}"#, #"{"op":99999999999999999999}"#,
        #"{"op":0,"t":"\ud800"}"#, #"{"op":0}x"#, #"{"op":0}{"op":1}"#,
        #"{"op":0,"d":"\x"}"#, #"{"op":0,"d":{"k":"\u12G4"}}"#, #"{"op":0,"d":["\u12"]}"#, #"{"op":01}"#, #"{"op":0,"s":00}"#, "{\"op\":0,\"t\":\"a\u{01}\"}",
        // Broken values with a word of bytes still ahead, where members are skipped without the general walk.
        #"{"op":0,"d":{"a":nul,"b":"12345678"}}"#, #"{"op":0,"d":{"a":fals,"b":"12345678"}}"#,
        #"{"op":0,"d":{"a":[},"b":"12345678"}}"#, #"{"op":0,"d":{"a":{],"b":"12345678"}}"#,
        #"{"op":0,"d":{"a":nullx,"b":"12345678"}}"#, #"{"op":0,"d":{"a":7x,"b":"12345678"}}"#,
        #"{"t":"MESSAGE_CREATE","op":0,"d":{"x":nulx,"id":"1","channel_id":"2","author":{"id":"3"}}}"#,
        #"{"t":"MESSAGE_CREATE","op":0,"d":{"x":trux,"id":"1","channel_id":"2","author":{"id":"3"}}}"#,
        #"{"t":"MESSAGE_CREATE","op":0,"d":{"x":"ab\qcd","id":"1","channel_id":"2","author":{"id":"3"}}}"#,
        #"{"t":"MESSAGE_CREATE","op":0,"d":{"x":"abcdefghij"#,
    ])
    func rejectsMalformedPayloads(_ payload: String) {
        #expect(throws: JSONScanError.self) { try GatewayEnvelope.peek(Array(payload.utf8)) }
    }

    @Test func findsQuotesEscapesAndControlCharactersAtEveryOffsetOfAWordOrVector() throws {
        // Past 16 bytes of a vector, past 8 of a word, and in the bytes too few for either.
        for offset in 0..<40 {
            let padding = String(repeating: "x", count: offset)
            let name = try GatewayEnvelope.peek(Array(#"{"op":0,"t":"\#(padding)\"\#(padding)\\"}"#.utf8)).eventName
            #expect(name == padding + "\"" + padding + "\\")
            let control = Array("{\"op\":0,\"t\":\"\(padding)\u{1F}\(padding)\"}".utf8)
            let error = #expect(throws: JSONScanError.self) { try GatewayEnvelope.peek(control) }
            #expect(error?.offset == 13 + offset)
            // Bytes at 0x80 and above (UTF-8) are plain content, not control characters.
            #expect(try GatewayEnvelope.peek(Array(#"{"op":0,"t":"\#(padding)é😀"}"#.utf8)).eventName == padding + "é😀")
        }
    }

    @Test func tellsHotEventsByTheirWholeName() {
        func event(_ name: String) -> HotEvent? {
            Array(name.utf8).withUnsafeBytes { HotEvent(name: $0) }
        }
        for hot in HotEvent.allCases {
            #expect(event(hot.name) == hot)
            #expect(HotEvent(eventName: hot.name) == hot)
            // The same length with any one byte's case (or `_`) changed is no event.
            let bytes = Array(hot.name.utf8)
            for index in bytes.indices {
                var changed = bytes
                changed[index] ^= 0x20
                #expect(changed.withUnsafeBytes { HotEvent(name: $0) } == nil)
            }
            #expect(event(String(hot.name.dropLast())) == nil)
            #expect(event(hot.name + "S") == nil)
        }
        for other in ["", "READY", "GUILD_CREATE", "TYPING_START", "MESSAGE_UPDATE", "MESSAGE_DELETE", "GUILD_MEMBERS_CHUNK", "PRESENCE_UPDATE"] {
            #expect(event(other) == nil)
        }
    }

    @Test func refusesNestingBeyondTheLimit() throws {
        let deep = #"{"op":0,"d":"# + String(repeating: "[", count: 300) + String(repeating: "]", count: 300) + "}"
        let error = #expect(throws: JSONScanError.self) { try GatewayEnvelope.peek(Array(deep.utf8)) }
        #expect(error?.message.contains("nesting") == true)
        // At the limit exactly: a value nested 255 deep is read, one 256 deep is refused, whatever its kind.
        func nested(_ depth: Int, _ value: String) -> [UInt8] {
            Array((#"{"op":0,"d":"# + String(repeating: "[", count: depth) + value + String(repeating: "]", count: depth) + #","s":12345678}"#).utf8)
        }
        for value in ["null", "[]", "7", #""text""#] {
            #expect(try GatewayEnvelope.peek(nested(JSONScanner.maxDepth - 1, value)).opcode == .dispatch)
            #expect(throws: JSONScanError.self) { try GatewayEnvelope.peek(nested(JSONScanner.maxDepth, value)) }
        }
    }
}

@Suite struct SnowflakeTests {
    @Test func readsTheTimestampOfDiscordsDocumentedExample() {
        // developers/reference: 175928847299117063 was created at 2016-04-30 11:18:25.796 UTC.
        let id = UserID(175_928_847_299_117_063)
        #expect(id.unixMilliseconds == 1_462_015_105_796)
        #expect(id.description == "175928847299117063")
    }

    /// The scanner reads snowflake strings eight digits at a time: every length, a non-digit at
    /// every place (bytes just outside '0'...'9' too), and the 20-digit edge of UInt64.
    @Test func snowflakeStringsReadLikeTheirDigits() throws {
        func read(_ text: String) throws -> UInt64? {
            let json = Array("\"\(text)\"".utf8)
            return try json.withUnsafeBytes { bytes in
                var scanner = JSONScanner(bytes)
                return try Result { () throws(JSONScanError) in try scanner.readSnowflake() }.get()
            }
        }
        var random = SystemRandomNumberGenerator()
        for length in 1...20 {
            for _ in 0..<200 {
                let digits = String((0..<length).map { _ in Character(String(Int.random(in: 0...9, using: &random))) })
                #expect(try read(digits) == UInt64(digits), "\(digits)")
                let place = Int.random(in: 0..<length)
                for wrong in ["/", ":", "a", " ", "\u{7F}", "é"] {
                    var bad = Array(digits)
                    bad[place] = Character(wrong)
                    #expect(try read(String(bad)) == nil, "\(String(bad))")
                }
            }
        }
        #expect(try read("18446744073709551615") == UInt64.max)
        #expect(try read("18446744073709551616") == nil)
        #expect(try read("99999999999999999999") == nil)
        #expect(try read("012345678901234567") == 12_345_678_901_234_567)
    }

    @Test func roundTripsItsParts() {
        let id = GuildID(unixMilliseconds: 1_700_000_000_000, worker: 3, process: 4, increment: 4095)
        #expect(id.unixMilliseconds == 1_700_000_000_000)
        #expect(id.rawValue & 0xFFF == 4095)
        #expect(id.rawValue >> 17 & 0x1F == 3)
        #expect(id.rawValue >> 12 & 0x1F == 4)
    }
}

struct GatewayEnvelopeGuildTests {
    @Test func theGuildIsReadOnlyFromTheTopOfD() throws {
        // A reply carries its own message (with its own guild_id and id) nested inside.
        let text = #"{"t":"MESSAGE_CREATE","d":{"referenced_message":{"guild_id":"1","id":"2"},"id":"300","guild_id":"81384788765712384"},"s":5,"op":0}"#
        let envelope = try GatewayEnvelope.peek(Array(text.utf8))
        #expect(envelope.dataGuildID == 81_384_788_765_712_384)
        #expect(envelope.dataID == 300)
        let bytes = Array(text.utf8)
        let range = try #require(envelope.dataRange)
        #expect(String(decoding: bytes[range], as: UTF8.self).hasPrefix(#"{"referenced_message""#))
        #expect(String(decoding: bytes[range], as: UTF8.self).hasSuffix(#""81384788765712384"}"#))
    }

    /// Duplicate keys read as a JSON parser reads them (the last one counts), and a message type
    /// that is not an integer is not taken for a member's message.
    @Test func duplicateKeysAndOddTypesReadAsAParserReadsThem() throws {
        func message(_ d: String) throws -> MessageCreateFields? {
            let envelope = try GatewayEnvelope.peek(Array(#"{"t":"MESSAGE_CREATE","s":1,"op":0,"d":\#(d)}"#.utf8))
            guard case .message(let fields) = envelope.hotFields else { return nil }
            return fields
        }
        let base = #""id":"300","channel_id":"5","author":{"id":"9"},"guild_id":"81384788765712384""#
        #expect(try message(#"{\#(base),"webhook_id":"1","webhook_id":null}"#)?.isWebhook == false)
        #expect(try message(#"{\#(base),"webhook_id":null,"webhook_id":"1"}"#)?.isWebhook == true)
        #expect(try message(#"{\#(base),"type":"0"}"#)?.type == -1)
        #expect(try message(#"{\#(base),"type":0.0}"#)?.type == -1)
        #expect(try message(#"{\#(base)}"#)?.type == 0, "no type: a plain message")
        let twice = try GatewayEnvelope.peek(Array(
            #"{"t":"MESSAGE_CREATE","s":1,"op":0,"d":{\#(base)},"d":{"id":"301","guild_id":"2"}}"#.utf8))
        #expect(twice.hotFields == nil && twice.dataGuildID == 2 && twice.dataID == 301, "nothing of the first d stays")
    }

    /// A `t` after `d` names the event the data belongs to: fields read for an earlier name do not
    /// stay (a crafted REACTION_REMOVE_ALL would otherwise act as an add by user 0).
    @Test func aLaterNameDropsTheFieldsReadForTheEarlierOne() throws {
        let d = #"{"channel_id":"5","message_id":"6","guild_id":"7"}"#
        let renamed = try GatewayEnvelope.peek(Array(
            #"{"op":0,"s":1,"t":"MESSAGE_REACTION_REMOVE_ALL","d":\#(d),"t":"MESSAGE_REACTION_ADD"}"#.utf8))
        #expect(renamed.hotEvent == .reactionAdd && renamed.eventName == "MESSAGE_REACTION_ADD")
        #expect(renamed.hotFields == nil, "d is read again, as an add, which it is not")
        #expect(renamed.dataGuildID == 7)
        // What a hot read left out is found too: a message's `d` renamed a guild event is routed by its own fields.
        let message = #"{"id":"300","channel_id":"5","author":{"id":"9"},"guild_id":"81384788765712384"}"#
        let guildEvent = try GatewayEnvelope.peek(Array(#"{"op":0,"s":1,"t":"MESSAGE_CREATE","d":\#(message),"t":"GUILD_DELETE"}"#.utf8))
        #expect(guildEvent.dataGuildID == 81_384_788_765_712_384 && guildEvent.dataID == 300 && guildEvent.hotFields == nil)
        let reaction = #"{"user_id":"1","channel_id":"5","message_id":"6","guild_id":"7","id":"8"}"#
        let created = try GatewayEnvelope.peek(Array(#"{"op":0,"s":1,"t":"MESSAGE_REACTION_ADD","d":\#(reaction),"t":"GUILD_CREATE"}"#.utf8))
        #expect(created.dataGuildID == 7 && created.dataID == 8, "the id the reaction's read did not take")
        let cleared = try GatewayEnvelope.peek(Array(#"{"op":0,"s":1,"t":"MESSAGE_REACTION_REMOVE_ALL","d":\#(d),"t":null}"#.utf8))
        #expect(cleared.hotEvent == nil && cleared.eventName == nil && cleared.hotFields == nil)
        let inOrder = try GatewayEnvelope.peek(Array(#"{"op":0,"s":1,"t":"MESSAGE_REACTION_REMOVE_ALL","d":\#(d)}"#.utf8))
        #expect(inOrder.hotFields != nil, "the usual order still reads the fields on the one pass")
    }

    @Test(arguments: [#"null"#, #"42"#, #""\u0031""#, #""12a""#, #""""#, #""99999999999999999999""#])
    func aGuildThatIsNotASnowflakeStringIsNone(_ value: String) throws {
        let envelope = try GatewayEnvelope.peek(Array(#"{"op":0,"s":1,"t":"X","d":{"guild_id":\#(value),"k":[1]}}"#.utf8))
        #expect(envelope.dataGuildID == nil)
        #expect(envelope.dataRange != nil)
    }
}
