import Foundation
import Testing
import DiscordModels

/// Random MESSAGE_CREATE, member and reaction objects — any key order, escaped keys, whitespace,
/// noise members, nested objects carrying their own `author`/`id`/`user` — scanned and compared
/// with a full decode by Foundation's JSONSerialization.
@Suite struct DispatchFieldsPropertyTests {
    private static let decoys = ["id", "author", "type", "user", "bot", "roles", "guild_id"]

    /// A field's value: usually what Discord sends, sometimes null, a number, or junk.
    private func snowflakeOrOdd(_ random: inout RandomJSON) -> String {
        switch random.next(12) {
        case 0: "null"
        case 1: "12345"
        case 2: "\"abc\""
        case 3: "\"\""
        default: random.snowflake()
        }
    }

    private func boolOrNull(_ random: inout RandomJSON) -> String { ["true", "false", "null"][random.next(3)] }

    private func roles(_ random: inout RandomJSON) -> String {
        "[" + (0..<random.next(5)).map { _ in random.space() + snowflakeOrOdd(&random) }.joined(separator: ",") + "]"
    }

    private func user(_ random: inout RandomJSON) -> String {
        var members: [(String, String)] = [("username", random.string())]
        if !random.chance(10) { members.append(("id", snowflakeOrOdd(&random))) }
        if random.chance(2) { members.append(("bot", boolOrNull(&random))) }
        if random.chance(2) { members.append(("avatar", random.chance(2) ? "null" : random.string())) }
        if random.chance(3) { members.append(("noise", random.value(depth: 2, decoyKeys: Self.decoys))) }
        return random.chance(20) ? "null" : random.object(members)
    }

    private func noise(_ random: inout RandomJSON, into members: inout [(key: String, value: String)]) {
        for index in 0..<random.next(4) { members.append(("n\(index)", random.value(depth: 1, decoyKeys: Self.decoys))) }
    }

    private func decode(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    private func snowflake(_ value: Any?) -> UInt64? {
        guard let text = value as? String, !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return UInt64(text)
    }

    private func scan<T>(_ text: String, _ scanner: (UnsafeRawBufferPointer) throws(JSONScanError) -> T) -> (T?, [UInt8]) {
        let bytes = Array(text.utf8)
        return (bytes.withUnsafeBytes { try? scanner($0) }, bytes)
    }

    private func roleIDs(_ list: SnowflakeList?, _ bytes: [UInt8]) throws -> [UInt64]? {
        try list.map { list in try bytes.withUnsafeBytes { try list.ids(in: $0) } }
    }

    @Test func messageCreateAgreesWithAFullDecode() throws {
        var random = RandomJSON(state: 0x4D45_5353)
        for _ in 0..<2_000 {
            var members: [(key: String, value: String)] = [("content", random.string())]
            if !random.chance(15) { members.append(("id", snowflakeOrOdd(&random))) }
            if !random.chance(15) { members.append(("channel_id", snowflakeOrOdd(&random))) }
            if random.chance(4) == false { members.append(("guild_id", snowflakeOrOdd(&random))) }
            if !random.chance(15) { members.append(("author", user(&random))) }
            if random.chance(2) { members.append(("type", String(random.next(25)))) }
            if random.chance(4) { members.append(("webhook_id", snowflakeOrOdd(&random))) }
            if random.chance(2) {
                let member = random.object([("roles", roles(&random)), ("joined_at", "\"2024-01-01T00:00:00+00:00\""), ("nick", "null")])
                members.append(("member", random.chance(10) ? "null" : member))
            }
            if random.chance(3) {
                // A reply's referenced message: its own id, type and author, which must not count.
                let referenced = random.object([("id", random.snowflake()), ("type", "0"), ("author", user(&random)), ("member", random.object([("roles", roles(&random))]))])
                members.append(("referenced_message", referenced))
            }
            noise(&random, into: &members)
            let text = random.space() + random.object(members) + random.space()
            let full = try decode(text)
            let (fields, bytes) = scan(text, MessageCreateFields.scan)

            // The same fields read on the envelope's pass, when `t` comes first as Discord sends it.
            let payload = Array(#"{"t":"MESSAGE_CREATE","s":7,"op":0,"d":"#.utf8) + bytes + Array("}".utf8)
            let envelope = try GatewayEnvelope.peek(payload)
            let onEnvelopePass: MessageCreateFields? = if case .message(let read)? = envelope.hotFields { read } else { nil }

            let author = full["author"] as? [String: Any]
            let expectedID = snowflake(full["id"]), expectedChannel = snowflake(full["channel_id"]), expectedAuthor = snowflake(author?["id"])
            guard let expectedID, let expectedChannel, let expectedAuthor else {
                #expect(fields == nil && envelope.hotFields == nil, "\(text)")
                continue
            }
            let shifted = try #require(onEnvelopePass, "\(text)")
            #expect(shifted.id == expectedID && shifted.authorID == expectedAuthor && envelope.dataGuildID == snowflake(full["guild_id"]), "\(text)")
            #expect(try roleIDs(shifted.memberRoles, payload) == roleIDs(fields?.memberRoles, bytes), "\(text)")
            let scanned = try #require(fields, "\(text)")
            #expect(scanned.id == expectedID && scanned.channelID == expectedChannel && scanned.authorID == expectedAuthor, "\(text)")
            #expect(scanned.guildID == snowflake(full["guild_id"]), "\(text)")
            #expect(scanned.authorIsBot == (author?["bot"] as? Bool ?? false), "\(text)")
            #expect(scanned.isWebhook == (full["webhook_id"].map { !($0 is NSNull) } ?? false), "\(text)")
            #expect(scanned.type == (full["type"] == nil ? 0 : full["type"] as? Int ?? -1), "\(text)")
            let expectedRoles = ((full["member"] as? [String: Any])?["roles"] as? [Any])?.compactMap(snowflake)
            #expect(try roleIDs(scanned.memberRoles, bytes) == expectedRoles, "\(text)")
        }
    }

    @Test func memberEventsAgreeWithAFullDecode() throws {
        var random = RandomJSON(state: 0x4D45_4D42)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for _ in 0..<2_000 {
            var members: [(key: String, value: String)] = []
            if !random.chance(15) { members.append(("guild_id", snowflakeOrOdd(&random))) }
            if !random.chance(15) { members.append(("user", user(&random))) }
            if random.chance(2) { members.append(("roles", roles(&random))) }
            if random.chance(2) { members.append(("pending", boolOrNull(&random))) }
            var joinedMilliseconds: Int64?
            if random.chance(2) {
                let milliseconds = Int64(1_420_070_400_000) + Int64(random.next(1 << 30)) * 1_000 + Int64(random.next(1_000))
                joinedMilliseconds = milliseconds
                let date = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1_000))
                members.append(("joined_at", "\"" + date + "\""))
            }
            noise(&random, into: &members)
            let text = random.object(members)
            let full = try decode(text)
            let (fields, bytes) = scan(text, MemberFields.scan)

            let user = full["user"] as? [String: Any]
            guard let guildID = snowflake(full["guild_id"]), let userID = snowflake(user?["id"]) else {
                #expect(fields == nil, "\(text)")
                continue
            }
            let scanned = try #require(fields, "\(text)")
            #expect(scanned.guildID == guildID && scanned.userID == userID, "\(text)")
            #expect(scanned.userIsBot == (user?["bot"] as? Bool ?? false), "\(text)")
            #expect(scanned.hasAvatar == (user?["avatar"] is String), "\(text)")
            #expect(scanned.isPending == full["pending"] as? Bool, "absent or null: not said; \(text)")
            #expect(try roleIDs(scanned.roles, bytes) == (full["roles"] as? [Any])?.compactMap(snowflake), "\(text)")
            #expect(scanned.joinedAtMilliseconds == joinedMilliseconds, "\(text)")
        }
    }

    @Test func reactionsAgreeWithAFullDecode() throws {
        var random = RandomJSON(state: 0x5245_4143)
        let names = ["\"👍\"", "\"\\ud83d\\udc4d\"", "\"kamii_star\"", "null"]
        for _ in 0..<2_000 {
            var members: [(key: String, value: String)] = []
            for key in ["guild_id", "channel_id", "message_id", "user_id"] where !random.chance(15) {
                members.append((key, snowflakeOrOdd(&random)))
            }
            if random.chance(2) { members.append(("message_author_id", snowflakeOrOdd(&random))) }
            if random.chance(2) { members.append(("member", random.object([("user", user(&random)), ("roles", roles(&random))]))) }
            if !random.chance(10) {
                members.append(("emoji", random.object([("id", random.chance(2) ? "null" : random.snowflake()), ("name", names[random.next(names.count)])])))
            }
            if random.chance(2) { members.append(("burst", ["true", "false", "null", "\"true\""][random.next(4)])) }
            if random.chance(2) { members.append(("type", ["0", "1", "2", "null", "\"1\""][random.next(5)])) }
            noise(&random, into: &members)
            let text = random.object(members)
            let full = try decode(text)
            let (fields, bytes) = scan(text, ReactionFields.scan)

            guard let user = snowflake(full["user_id"]), let message = snowflake(full["message_id"]), let channel = snowflake(full["channel_id"]) else {
                #expect(fields == nil, "\(text)")
                continue
            }
            let scanned = try #require(fields, "\(text)")
            #expect(scanned.userID == user && scanned.messageID == message && scanned.channelID == channel, "\(text)")
            #expect(scanned.guildID == snowflake(full["guild_id"]), "\(text)")
            #expect(scanned.messageAuthorID == snowflake(full["message_author_id"]), "\(text)")
            let memberUser = (full["member"] as? [String: Any])?["user"] as? [String: Any]
            #expect(scanned.userIsBot == (memberUser?["bot"] as? Bool ?? false), "\(text)")
            // A JSON boolean is an NSNumber of type "c" (on Linux `as? Bool` takes 0 and 1 too).
            func number(_ value: Any?) -> (isBoolean: Bool, value: Double)? {
                (value as? NSNumber).map { (String(cString: $0.objCType) == "c", $0.doubleValue) }
            }
            let burst = number(full["burst"]).map { $0.isBoolean && $0.value == 1 } ?? false
            let superType = number(full["type"]).map { !$0.isBoolean && $0.value == 1 } ?? false
            #expect(scanned.isBurst == (burst || superType), "\(text)")
            let emoji = full["emoji"] as? [String: Any]
            #expect(scanned.emojiID == snowflake(emoji?["id"]), "\(text)")
            let name = try bytes.withUnsafeBytes { raw in try scanned.emojiName.map { try $0.decode(in: raw) } }
            #expect(name == emoji?["name"] as? String, "\(text)")
            if name == "👍", scanned.emojiID == nil {
                #expect(bytes.withUnsafeBytes { scanned.emojiMatches("👍", in: $0) })
            }
        }
    }

    @Test func timestampsReadAsDiscordWritesThem() {
        func read(_ text: String) -> Int64? {
            Array(text.utf8).withUnsafeBytes { DiscordTimestamp.unixMilliseconds($0) }
        }
        #expect(read("2015-04-26T06:26:56.936000+00:00") == 1_430_029_616_936)
        #expect(read("2015-04-26T06:26:56+00:00") == 1_430_029_616_000)
        #expect(read("2015-04-26T08:26:56.9+02:00") == 1_430_029_616_900)
        #expect(read("1970-01-01T00:00:00Z") == 0)
        #expect(read("2024-02-29T23:59:59.999Z") == 1_709_251_199_999)
        for bad in ["", "2015-04-26", "2015-13-01T00:00:00Z", "2015-04-26T06:26:56.+00:00", "2015-04-26T06:26:56+0000", "2015-04-26T06:26:56Zjunk"] {
            #expect(read(bad) == nil, "\(bad)")
        }
    }
}
