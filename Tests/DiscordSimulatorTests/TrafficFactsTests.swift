import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// What the generated traffic means — the facts the ground truth counts — must agree with the
/// bytes a client receives, and the ground truth must apply Kamii's XP rule exactly.
struct TrafficFactsTests {
    static let world = TrafficWorld(guildCount: 200, userCount: 4_000, seed: 21)

    /// A reaction event's emoji as the ground truth names it: a Unicode emoji's text, a custom
    /// emoji's `name:id`.
    static func emojiName(_ data: [String: Any]) -> String? {
        guard let emoji = data["emoji"] as? [String: Any], let name = emoji["name"] as? String else { return nil }
        return (emoji["id"] as? String).map { "\(name):\($0)" } ?? name
    }

    @Test func aShardsTrafficTalksOnlyAboutItsGuilds() {
        var traffic = TrafficGenerator(world: Self.world, seed: 1, shard: (id: 1, count: 4))
        for _ in 0..<2_000 {
            let event = traffic.nextEvent()
            #expect((event.guild.rawValue >> 22) % 4 == 1)
        }
    }

    @Test func factsAgreeWithThePayloads() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 2)
        var reactions: [String: Int] = [:]
        // The same, a normal and a super reaction apart.
        var placed: [String: Int] = [:]
        var seen = Set<String>()
        var clears = 0
        var (superReactions, customReactions, skinTones) = (0, 0, 0)
        var openThreads: [String: String] = [:], archivedThreads: [String: String] = [:]
        var (threadMessages, closedThreads, unarchived) = (0, 0, 0)
        // "guild/user": the joined_at a join said; those who left since.
        var (joinedAtSaid, gone, announcedAgain) = ([String: String](), Set<String>(), 0)
        // The thread the last event opened: its system message follows at once.
        var (lastThreadCreated, threadsAnnounced, threadsCreated): (String?, Int, Int) = (nil, 0, 0)
        for _ in 0..<30_000 {
            let event = traffic.nextEvent()
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
            #expect(data["guild_id"] as? String == event.guild.description)
            seen.insert(event.name)
            let justCreated = lastThreadCreated
            lastThreadCreated = nil
            switch event.fact {
            case .message(let guild, let author, let id, let earnsXP, let channel, let parent, _):
                #expect(event.name == "MESSAGE_CREATE" && guild == event.guild)
                let authorObject = try #require(data["author"] as? [String: Any])
                #expect(authorObject["id"] as? String == author.description)
                #expect(data["id"] as? String == id.description)
                #expect(earnsXP == (authorObject["bot"] == nil))
                #expect(data["channel_id"] as? String == channel.description)
                #expect(data["channel_type"] as? Int == (parent == nil ? 0 : 11))
                if let parent {
                    // Posted only in a thread the traffic opened before and has not closed.
                    #expect(openThreads[channel.description] == parent.description, "thread \(channel)")
                    threadMessages += 1
                } else {
                    let index = try #require(Self.world.guildIndex(of: guild))
                    #expect(Self.world.guilds[index].channels.contains(channel))
                }
            case .notOwnMessage(let guild, let author):
                // A join's system message (by the newcomer), a thread's opening in its parent (by
                // the opener, right after its THREAD_CREATE) or a webhook's post (by the webhook).
                #expect(event.name == "MESSAGE_CREATE" && guild == event.guild)
                let authorObject = try #require(data["author"] as? [String: Any])
                #expect(authorObject["id"] as? String == author.description)
                if data["type"] as? Int == 18 {
                    let reference = try #require(data["message_reference"] as? [String: Any])
                    let thread = try #require(reference["channel_id"] as? String)
                    #expect(openThreads[thread] == data["channel_id"] as? String && justCreated == thread, "thread \(thread)")
                    #expect(reference["guild_id"] as? String == guild.description)
                    threadsAnnounced += 1
                } else {
                    #expect(data["type"] as? Int == 7 || (data["webhook_id"] as? String == author.description && authorObject["bot"] as? Bool == true))
                }
            case .reaction(_, let giver, let receiver, let emoji, let added, _, _):
                #expect(event.name == (added ? "MESSAGE_REACTION_ADD" : "MESSAGE_REACTION_REMOVE"))
                #expect(data["user_id"] as? String == giver.description)
                if added { #expect(data["message_author_id"] as? String == receiver.description) }
                #expect(Self.emojiName(data) == emoji)
                #expect((data["burst"] as? Bool) == ((data["type"] as? Int) == 1), "burst and type agree")
                if added, data["burst"] as? Bool == true { superReactions += 1 }
                if added, emoji.contains(":") { customReactions += 1 }
                if added, emoji.unicodeScalars.contains(where: { (0x1F3FB...0x1F3FF).contains($0.value) }) { skinTones += 1 }
                let key = "\(data["message_id"]!)/\(giver)/\(emoji)"
                let burstKey = key + (data["burst"] as? Bool == true ? "/super" : "")
                reactions[key, default: 0] += added ? 1 : -1
                placed[burstKey, default: 0] += added ? 1 : -1
                // One reaction per user, emoji and message, and a super one besides; a removal
                // takes back an earlier add.
                #expect((0...1).contains(placed[burstKey]!) && (0...2).contains(reactions[key]!))
            case .reactionsCleared(let removals):
                let emoji = Self.emojiName(data)
                #expect(event.name == (emoji == nil ? "MESSAGE_REACTION_REMOVE_ALL" : "MESSAGE_REACTION_REMOVE_EMOJI"))
                #expect(data["user_id"] == nil)
                clears += 1
                // Exactly the reactions in place on the message (with the emoji) are taken off.
                let prefix = "\(data["message_id"]!)/"
                let inPlace = reactions.filter { $0.value > 0 && $0.key.hasPrefix(prefix) && (emoji == nil || $0.key.hasSuffix("/\(emoji!)")) }
                var removed: [String: Int] = [:]
                for removal in removals {
                    guard case .reaction(_, let giver, _, let removedEmoji, let added, _, _) = removal else {
                        Issue.record("a clear holds reaction removals only")
                        continue
                    }
                    #expect(!added && (emoji == nil || removedEmoji == emoji))
                    removed["\(data["message_id"]!)/\(giver)/\(removedEmoji)", default: 0] += 1
                }
                #expect(removed == inPlace)
                for key in removed.keys { (reactions[key], placed[key], placed[key + "/super"]) = (0, 0, 0) }
            case .memberLeft(let guild, let user):
                #expect(event.name == "GUILD_MEMBER_REMOVE")
                let index = try #require(Self.world.guildIndex(of: guild))
                #expect(Self.world.users[Self.world.guilds[index].members[0]].id != user, "an owner never leaves")
                gone.insert("\(guild)/\(user)")
                joinedAtSaid["\(guild)/\(user)"] = nil
            case .memberJoined(let guild, let user, _, _, _):
                #expect(event.name == "GUILD_MEMBER_ADD")
                #expect((data["user"] as? [String: Any])?["id"] as? String == user.id.description)
                gone.remove("\(guild)/\(user.id)")
                joinedAtSaid["\(guild)/\(user.id)"] = data["joined_at"] as? String
            case .memberAnnouncedAgain(let guild, let user):
                // A member as they are: never one who left, with the joined_at of their join.
                #expect(event.name == "GUILD_MEMBER_ADD" && data["pending"] as? Bool == false)
                #expect((data["user"] as? [String: Any])?["id"] as? String == user.description)
                #expect(!gone.contains("\(guild)/\(user)"), "\(user) left \(guild)")
                if let said = joinedAtSaid["\(guild)/\(user)"] { #expect(data["joined_at"] as? String == said) }
                announcedAgain += 1
            case .memberUpdated(_, let user, let roles, let pending, _):
                #expect(event.name == "GUILD_MEMBER_UPDATE")
                #expect((data["user"] as? [String: Any])?["id"] as? String == user.description)
                #expect(data["roles"] as? [String] == roles.map(\.description) && data["pending"] as? Bool == pending)
            case .interaction(let id, let token, _, let channel, let user, let componentMessage):
                #expect(data["type"] as? Int == (componentMessage == nil ? 2 : 3))
                #expect((data["message"] as? [String: Any])?["id"] as? String == componentMessage.map(String.init))
                #expect(data["channel_id"] as? String == channel.description)
                #expect(data["id"] as? String == String(id) && data["token"] as? String == token)
                #expect(((data["member"] as? [String: Any])?["user"] as? [String: Any])?["id"] as? String == user.description)
            case .throughREST:
                Issue.record("the traffic drew a REST call's change: \(event.name)")
            case .none:
                #expect(["TYPING_START", "PRESENCE_UPDATE", "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE"].contains(event.name))
                guard event.name.hasPrefix("THREAD_") else { break }
                let id = try #require(data["id"] as? String)
                let parent = try #require(data["parent_id"] as? String)
                #expect(data["type"] as? Int == 11)
                let index = try #require(Self.world.guildIndex(of: event.guild))
                #expect(Self.world.guilds[index].channels.map(\.description).contains(parent))
                let archived = (data["thread_metadata"] as? [String: Any])?["archived"] as? Bool
                switch (event.name, archived) {
                case ("THREAD_CREATE", _):
                    #expect(openThreads[id] == nil && archived == false && data["newly_created"] as? Bool == true)
                    #expect(data["owner_id"] is String)
                    openThreads[id] = parent
                    (lastThreadCreated, threadsCreated) = (id, threadsCreated + 1)
                case ("THREAD_UPDATE", false?):
                    // Out of the archive: a thread archived before, in the same channel.
                    #expect(archivedThreads[id] == parent && openThreads[id] == nil)
                    archivedThreads[id] = nil
                    openThreads[id] = parent
                    unarchived += 1
                default:
                    #expect(openThreads[id] == parent)
                    if event.name == "THREAD_UPDATE" {
                        #expect(archived == true)
                        archivedThreads[id] = parent
                    }
                    openThreads[id] = nil
                    closedThreads += 1
                }
            }
        }
        #expect(threadMessages > 100 && closedThreads > 10 && unarchived > 0, "\(threadMessages) thread messages, \(closedThreads) closed, \(unarchived) out of the archive")
        #expect(announcedAgain > 0)
        #expect(threadsCreated > 10 && threadsAnnounced == threadsCreated, "\(threadsAnnounced) of \(threadsCreated) threads announced")
        #expect(seen.isSuperset(of: ["MESSAGE_CREATE", "MESSAGE_REACTION_ADD", "MESSAGE_REACTION_REMOVE", "GUILD_MEMBER_ADD",
                                     "GUILD_MEMBER_REMOVE", "INTERACTION_CREATE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI",
                                     "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE", "GUILD_MEMBER_UPDATE"]))
        #expect(clears > 0)
        #expect(superReactions > 0 && customReactions > 0 && skinTones > 0, "\(superReactions) super, \(customReactions) custom, \(skinTones) in a skin tone")
    }

    @Test func aMembersRolesAndNicknameAreTheSameInEveryEvent() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 4)
        var seen: [String: String] = [:]
        var repeats = 0
        for _ in 0..<20_000 {
            let event = traffic.nextEvent()
            // Someone who leaves and joins again is a new member: no roles, a new joined_at.
            if case .memberJoined(let guild, let user, _, _, _) = event.fact { seen["\(guild)/\(user.id)"] = nil }
            // A role given or taken changes what later events say (``rolesGivenAndTakenShowInLaterEvents``).
            if case .memberUpdated(let guild, let user, _, _, _) = event.fact { seen["\(guild)/\(user)"] = nil }
            guard case .message(let guild, let author, _, _, _, _, _) = event.fact else { continue }
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
            let member = try #require(data["member"] as? [String: Any])
            let identity = "\(member["roles"] as? [String] ?? [])|\(member["nick"] as? String ?? "-")|\(member["joined_at"] as? String ?? "")"
            let key = "\(guild)/\(author)"
            if let earlier = seen[key] {
                #expect(earlier == identity)
                repeats += 1
            }
            seen[key] = identity
        }
        #expect(repeats > 1_000)
        // The roles are the world's: what REST and GUILD_CREATE's member lists say too.
        let guild = Self.world.guilds[0]
        let roles = Set(Self.world.initialRoles(of: guild, slot: 0).map(\.description))
        #expect(Self.world.roles(of: guild).filter { roles.contains($0.id.description) }.contains { $0.name == "Admin" })
    }

    @Test func rolesAndNicknamesSetThroughRESTShowInLaterTraffic() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 6)
        let guild = Self.world.guilds[0]
        let role = Self.world.roles(of: guild)[0].id
        // Traffic first, so the members' objects are rendered and kept before the change.
        for _ in 0..<5_000 { _ = traffic.nextEvent() }
        var changed = Set<UserID>()
        for slot in 0..<guild.members.count {
            let user = Self.world.users[guild.members[slot]].id
            traffic.updateMember(user, in: guild.id, roles: [role], nick: "quote \" and \\ back")
            changed.insert(user)
        }
        var seen = 0
        // A role the traffic gave or took since (a moderator at work) changes the list REST set.
        var roles: [UserID: [RoleID]] = [:]
        for _ in 0..<5_000 {
            let event = traffic.nextEvent()
            // Whoever leaves comes back as a newcomer, without what REST gave them (as on Discord).
            if case .memberLeft(guild.id, let user) = event.fact { changed.remove(user) }
            if case .memberUpdated(guild.id, let user, let now, _, _) = event.fact { roles[user] = now }
            if case .message(guild.id, let author, _, _, _, _, _) = event.fact, !changed.contains(author) {
                let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
                #expect((data["member"] as? [String: Any])?["nick"] as? String != "quote \" and \\ back", "a newcomer has no nickname")
            }
            guard case .message(let eventGuild, let author, _, _, _, _, _) = event.fact, eventGuild == guild.id, changed.contains(author) else { continue }
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any], "escaped JSON")
            let member = try #require(data["member"] as? [String: Any])
            #expect(member["roles"] as? [String] == (roles[author] ?? [role]).map(\.description))
            #expect(member["nick"] as? String == "quote \" and \\ back")
            seen += 1
        }
        #expect(seen > 10)
    }

    @Test func aRaidIsABurstOfBrandNewAccountsJoiningOneGuild() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 3)
        let guild = Self.world.guilds[7].id
        traffic.startRaid(guild: guild, size: 40)
        var joins = 0
        var raiderMessages = 0
        while joins < 40 {
            let event = traffic.nextEvent()
            #expect(event.guild == guild)
            switch event.fact {
            case .memberJoined(_, let user, _, let raid, _):
                #expect(raid && user.avatar == nil)
                let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
                let joinedAt = try #require(data["joined_at"] as? String)
                let joined = try #require(SimulatedAPI.parseTimestamp(joinedAt))
                let created = Date(timeIntervalSince1970: Double(user.id.unixMilliseconds) / 1_000)
                #expect(joined.timeIntervalSince(created) < 601, "a raid account is minutes old")
                joins += 1
            case .message:
                raiderMessages += 1
            case .notOwnMessage:
                // A raider greeted in the system channel (a guild without screening).
                #expect(!Self.world.screensNewMembers(Self.world.guilds[7]))
            case .memberUpdated(_, _, let roles, let pending, _) where roles.isEmpty && !pending:
                // A raider through the guild's screening, before posting.
                #expect(Self.world.screensNewMembers(Self.world.guilds[7]))
            default:
                Issue.record("a raid wave is joins, screenings passed and raiders' messages, not \(event.name)")
            }
        }
        #expect(raiderMessages > 0)
    }

    @Test func xpRollsAreFifteenToTwentyFiveAndFixedByTheMessage() {
        let rules = GroundTruth.Rules()
        var seen = Set<Int>()
        for raw in stride(from: UInt64(1) << 40, to: (UInt64(1) << 40) + 20_000, by: 1) {
            let xp = GroundTruth.xpRoll(messageID: MessageID(raw), rules: rules)
            #expect((15...25).contains(xp))
            seen.insert(xp)
        }
        #expect(seen.count == 11)
        #expect(GroundTruth.xpRoll(messageID: MessageID(99), rules: rules) == GroundTruth.xpRoll(messageID: MessageID(99), rules: rules))
    }

    @Test func theCooldownCountsByMessageTime() {
        let truth = GroundTruth()
        let guild = GuildID(1 << 30)
        let user = UserID(1 << 31)
        let start: UInt64 = 1_795_000_000_000
        let ids = [0, 30_000, 60_000, 61_000, 125_000].map { MessageID(unixMilliseconds: start + UInt64($0), increment: 1) }
        let channel = ChannelID(1 << 32)
        for id in ids { truth.apply(.message(guild: guild, author: user, id: id, earnsXP: true, channel: channel, parent: nil, roles: [])) }
        truth.apply(.message(guild: guild, author: user, id: ids[4], earnsXP: false, channel: channel, parent: nil, roles: []))
        let member = truth.member(user, in: guild)
        #expect(member.messages == 6)
        // 0 earns; 30 s is inside the cooldown; 60 s earns; 61 s is inside the new cooldown; 125 s earns.
        #expect(member.messagesEarningXP == 3)
        #expect(member.xp == [ids[0], ids[2], ids[4]].map { GroundTruth.xpRoll(messageID: $0, rules: truth.rules) }.reduce(0, +))
        #expect(truth.xp(in: guild) == [user: member.xp])
    }

    /// Kamii's channel rules, threads included: a thread follows its parent's no-XP setting, and
    /// its own multiplier before its parent's; a message that earns 0 XP starts no cooldown.
    @Test func channelRulesFollowAThreadsParent() {
        let quiet = ChannelID(10 << 32), boosted = ChannelID(11 << 32), halved = ChannelID(12 << 32), plain = ChannelID(13 << 32)
        let quietThread = ChannelID(20 << 32), boostedThread = ChannelID(21 << 32), ownThread = ChannelID(22 << 32)
        let rules = GroundTruth.Rules(
            minimumXP: 15, maximumXP: 25, noXPChannels: [quiet],
            channelMultipliers: [boosted: 1.5, halved: 0.5, ownThread: 0, plain: 1])
        let truth = GroundTruth(rules: rules)
        let guild = GuildID(1 << 30)
        let start: UInt64 = 1_795_000_000_000
        var next = 0
        func post(_ user: UInt64, in channel: ChannelID, parent: ChannelID? = nil) -> MessageID {
            next += 1
            let id = MessageID(unixMilliseconds: start + UInt64(next) * 61_000, increment: UInt64(next))
            truth.apply(.message(guild: guild, author: UserID(user << 31), id: id, earnsXP: true, channel: channel, parent: parent, roles: []))
            return id
        }
        func roll(_ id: MessageID) -> Int { GroundTruth.xpRoll(messageID: id, rules: rules) }
        _ = post(1, in: quiet)
        _ = post(1, in: quietThread, parent: quiet)
        #expect(truth.member(UserID(1 << 31), in: guild).messages == 2)
        #expect(truth.member(UserID(1 << 31), in: guild).xp == 0)
        let inBoostedThread = post(2, in: boostedThread, parent: boosted)
        let inHalved = post(2, in: halved)
        #expect(truth.member(UserID(2 << 31), in: guild).xp
            == Int((Double(roll(inBoostedThread)) * 1.5).rounded()) + Int((Double(roll(inHalved)) * 0.5).rounded()))
        // The thread's own 0× wins over its parent's 1.5×: nothing earned, no cooldown started.
        _ = post(3, in: ownThread, parent: boosted)
        #expect(truth.member(UserID(3 << 31), in: guild).messagesEarningXP == 0)
        #expect(truth.member(UserID(3 << 31), in: guild).lastXPAt == nil)
        let inPlain = post(3, in: plain)
        #expect(truth.member(UserID(3 << 31), in: guild).xp == roll(inPlain))
    }

    @Test func reactionsAreCountedNetOfRemovals() {
        let truth = GroundTruth()
        let guild = GuildID(1 << 30)
        let giver = UserID(5 << 30)
        let receiver = UserID(6 << 30)
        let add = TrafficFact.reaction(guild: guild, giver: giver, receiver: receiver, emoji: "⭐", added: true, giverIsBot: false, receiverIsBot: false)
        let remove = TrafficFact.reaction(guild: guild, giver: giver, receiver: receiver, emoji: "⭐", added: false, giverIsBot: false, receiverIsBot: false)
        truth.apply(add)
        truth.apply(add)
        truth.apply(remove)
        #expect(truth.member(giver, in: guild).reactionsGiven == ["⭐": 1])
        #expect(truth.member(receiver, in: guild).reactionsReceived == ["⭐": 1])
    }
}
