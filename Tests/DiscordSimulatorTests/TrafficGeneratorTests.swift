import Foundation
import Testing
@testable import DiscordSimulator
import DiscordGateway
import DiscordModels

@Suite struct TrafficGeneratorTests {
    static let world = TrafficWorld(guildCount: 500, userCount: 5_000, seed: 7)

    @Test func theSameSeedGivesTheSameTrafficAndAnotherSeedDoesNot() {
        var first = TrafficGenerator(world: TrafficWorld(guildCount: 500, userCount: 5_000, seed: 7), seed: 1)
        var second = TrafficGenerator(world: Self.world, seed: 1)
        var other = TrafficGenerator(world: Self.world, seed: 2)
        let payloads = first.payloads(count: 500)
        #expect(payloads == second.payloads(count: 500))
        #expect(payloads != other.payloads(count: 500))
    }

    @Test func payloadsHaveDiscordsShapesAndIncreasingSequences() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 3)
        let guildIDs = Set(Self.world.guilds.map(\.id.description))
        var counts: [String: Int] = [:]
        for (index, payload) in traffic.payloads(count: 5_000).enumerated() {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any])
            #expect(object["op"] as? Int == 0)
            #expect(object["s"] as? Int == index + 1)
            let name = try #require(object["t"] as? String)
            counts[name, default: 0] += 1
            let data = try #require(object["d"] as? [String: Any])
            let guildID = try #require(data["guild_id"] as? String)
            #expect(guildIDs.contains(guildID))
            switch name {
            case "MESSAGE_CREATE" where data["webhook_id"] != nil:
                // A webhook's: its author is the webhook, a bot, and no member.
                let author = try #require(data["author"] as? [String: Any])
                #expect(author["bot"] as? Bool == true && author["id"] as? String == data["webhook_id"] as? String && data["member"] == nil)
                counts["webhook", default: 0] += 1
            case "MESSAGE_CREATE":
                let author = try #require(data["author"] as? [String: Any])
                let member = try #require(data["member"] as? [String: Any])
                let authorIDText = try #require(author["id"] as? String)
                let authorID = try #require(UInt64(authorIDText))
                let messageID = try #require((data["id"] as? String).flatMap(UInt64.init))
                #expect(UserID(authorID).unixMilliseconds < MessageID(messageID).unixMilliseconds)
                #expect(member["roles"] is [String])
                #expect(member["joined_at"] is String)
                #expect(data["content"] is String)
            case "MESSAGE_REACTION_ADD":
                let emoji = try #require(data["emoji"] as? [String: Any])
                #expect(emoji["name"] is String)
                #expect(data["user_id"] is String)
            case "MESSAGE_REACTION_REMOVE":
                #expect(data["user_id"] is String && data["message_id"] is String && data["member"] == nil)
            case "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI":
                #expect(data["user_id"] == nil && data["message_id"] is String && data["channel_id"] is String)
                #expect((data["emoji"] as? [String: Any])?["name"] is String == (name == "MESSAGE_REACTION_REMOVE_EMOJI"))
            case "GUILD_MEMBER_UPDATE":
                // The whole member, as Discord sends it: a GUILD_ event always says `pending`.
                #expect(data["user"] is [String: Any] && data["roles"] is [String] && data["pending"] is Bool)
                #expect(data["joined_at"] is String && data["guild_id"] is String)
            case "GUILD_MEMBER_ADD", "GUILD_MEMBER_REMOVE", "TYPING_START":
                #expect(data["user"] is [String: Any] || data["member"] is [String: Any])
            case "INTERACTION_CREATE":
                let member = try #require(data["member"] as? [String: Any])
                #expect(member["permissions"] is String && member["user"] is [String: Any])
                #expect((data["token"] as? String)?.isEmpty == false && data["id"] is String && data["application_id"] is String)
                #expect([2, 3].contains(data["type"] as? Int ?? 0))
            case "PRESENCE_UPDATE":
                #expect(data["status"] is String)
            case "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE":
                #expect(data["id"] is String && data["parent_id"] is String && data["type"] as? Int == 11)
                #expect((data["thread_metadata"] as? [String: Any])?["archived"] is Bool == (name != "THREAD_DELETE"))
            default:
                Issue.record("unexpected event \(name)")
            }
        }
        #expect((4_150...4_450).contains(counts["MESSAGE_CREATE"] ?? 0))
        #expect(Set(counts.keys).count >= 7, "\(counts)")
    }

    /// A newcomer who is not pending is greeted by a system message (type 7) in the guild's system
    /// channel, authored by them, right after their GUILD_MEMBER_ADD — as Discord does with join
    /// messages on — and neither it nor a webhook's message is a fact the ground truth counts.
    @Test func joinsAreGreetedBySystemMessagesThatCountForNothing() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 4)
        var joinedLast: (user: String, pending: Bool)?
        var (greeted, webhooks) = (0, 0)
        for _ in 0..<60_000 {
            let event = traffic.nextEvent()
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
            defer {
                joinedLast = event.name == "GUILD_MEMBER_ADD"
                    ? ((data["user"] as? [String: Any])?["id"] as? String ?? "", data["pending"] as? Bool == true) : nil
            }
            guard event.name == "MESSAGE_CREATE" else { continue }
            let author = try #require(data["author"] as? [String: Any])
            if data["type"] as? Int == 7 {
                let joined = try #require(joinedLast, "a join message follows its join")
                #expect(!joined.pending && author["id"] as? String == joined.user && author["bot"] == nil)
                #expect(data["channel_id"] as? String == Self.world.guilds.first { $0.id == event.guild }?.channels.first?.description)
                #expect(event.fact == .notOwnMessage(guild: event.guild, author: UserID(UInt64(joined.user) ?? 0)))
                greeted += 1
            } else if data["webhook_id"] != nil || data["type"] as? Int == 18 {
                // A webhook's post; a thread's opening, by its opener (TrafficFactsTests checks the rest).
                #expect(event.fact == .notOwnMessage(guild: event.guild, author: UserID(UInt64(author["id"] as? String ?? "") ?? 0)))
                if data["webhook_id"] != nil { webhooks += 1 }
            } else if case .message = event.fact {
            } else {
                Issue.record("a member's message without its fact: \(event.fact)")
            }
        }
        #expect(greeted > 20 && webhooks > 20, "\(greeted) join messages, \(webhooks) webhook messages")
    }

    /// A reply nests the message it answers, as Discord does: its author's user object comes
    /// inside the event, ahead of the event's own author, and is often someone else — a bot among
    /// them. The event's fact names the reply's author.
    @Test func repliesNestTheMessageTheyAnswer() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 5)
        var (replies, toOthers, toBots) = (0, 0, 0)
        let bots = Set(Self.world.users.filter(\.isBot).map(\.id.description))
        for _ in 0..<60_000 {
            let event = traffic.nextEvent()
            guard event.name == "MESSAGE_CREATE", case .message(_, let author, _, _, _, _, _) = event.fact else { continue }
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
            guard data["type"] as? Int == 19, let replied = data["referenced_message"] as? [String: Any] else { continue }
            let reference = try #require(data["message_reference"] as? [String: Any])
            #expect(reference["message_id"] as? String == replied["id"] as? String)
            #expect(replied["channel_id"] as? String == data["channel_id"] as? String && replied["member"] == nil)
            let repliedAuthor = try #require((replied["author"] as? [String: Any])?["id"] as? String)
            #expect((data["author"] as? [String: Any])?["id"] as? String == author.description)
            let text = String(decoding: event.data, as: UTF8.self)
            #expect(text.range(of: #""author":"#)!.lowerBound < text.range(of: #""author":"#, options: .backwards)!.lowerBound)
            replies += 1
            if repliedAuthor != author.description { toOthers += 1 }
            if bots.contains(repliedAuthor) { toBots += 1 }
        }
        #expect(replies > 1_000 && toOthers > replies / 2 && toBots > 10, "\(replies) replies, \(toOthers) to others, \(toBots) to bots")
    }

    @Test func activityIsSkewedTowardsAFewGuilds() {
        var random = SeededRandom(seed: 11)
        var hits = [Int](repeating: 0, count: Self.world.guilds.count)
        for _ in 0..<50_000 { hits[Self.world.pickGuild(&random)] += 1 }
        let topOnePercent = hits.prefix(Self.world.guilds.count / 100).reduce(0, +)
        // With weights 1/rank^1.1 over 500 guilds the top five carry about 40% of the traffic.
        #expect(topOnePercent > 15_000)
        #expect(hits.filter { $0 > 0 }.count > 400)
    }

    @Test func timestampsAreDiscordsISO8601() {
        #expect(DiscordTimestamp.iso8601(unixMilliseconds: 1_795_000_000_000) == "2026-11-18T11:06:40.000000+00:00")
        #expect(DiscordTimestamp.iso8601(unixMilliseconds: 951_782_400_123) == "2000-02-29T00:00:00.123000+00:00")
    }

    @Test(arguments: [GatewayCompression.none, .zlibStream, .zstdStream])
    func deflatedTrafficInflatesToTheSameBytes(_ compression: GatewayCompression) throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 5)
        let deflater = compression.makeDeflater()
        let inflater = compression.makeInflater()
        for payload in traffic.payloads(count: 3_000) {
            let message = deflater.deflate(payload)
            if compression == .zlibStream { #expect(message.suffix(4) == [0x00, 0x00, 0xFF, 0xFF]) }
            let inflated = try #require(try inflater.inflate(message))
            #expect(Array(inflated) == payload)
        }
    }
}

@Suite struct JSONBytesTests {
    @Test(arguments: [0, 951_782_400_123, 1_462_015_105_796, 1_795_000_000_000, 4_102_444_799_999] as [UInt64])
    func timestampsMatchTheStringFormatter(_ milliseconds: UInt64) {
        var json = JSONBytes()
        json.timestamp(unixMilliseconds: milliseconds)
        #expect(String(decoding: json.bytes, as: UTF8.self) == "\"" + DiscordTimestamp.iso8601(unixMilliseconds: milliseconds) + "\"")
    }

    @Test func integersAndSnowflakesRenderAsDecimal() {
        var json = JSONBytes()
        for value in [0, 7, -42, Int.max, Int.min] {
            json.int(value)
            json.raw(",")
        }
        json.id(GuildID(175_928_847_299_117_063))
        #expect(String(decoding: json.bytes, as: UTF8.self) == "0,7,-42,\(Int.max),\(Int.min),\"175928847299117063\"")
    }
}
