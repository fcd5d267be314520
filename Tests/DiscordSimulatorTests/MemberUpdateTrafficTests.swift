import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// GUILD_MEMBER_UPDATE in the traffic — roles given and taken, Membership Screening passed — and
/// what it means: later events list the roles, a pending newcomer does nothing until it passes, and
/// the ground truth judges role rules by the roles a message listed.
struct MemberUpdateTrafficTests {
    /// Few guilds, so updates, joins and screening passes meet often enough in 60,000 events.
    static let world = TrafficWorld(guildCount: 20, userCount: 2_000, seed: 41)

    static func object(_ event: GeneratedEvent) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
    }

    @Test func rolesGivenAndTakenShowInTheUpdateAndInLaterMessages() throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 42)
        traffic.rolesInFacts = true
        // What each member's roles were last seen to be, by "guild/user".
        var known: [String: [String]] = [:]
        var (given, taken, messagesChecked) = (0, 0, 0)
        for _ in 0..<60_000 {
            let event = traffic.nextEvent()
            switch event.fact {
            case .memberUpdated(let guild, let user, let roles, let pending, _):
                let data = try Self.object(event)
                #expect(data["roles"] as? [String] == roles.map(\.description))
                #expect(data["pending"] as? Bool == pending && !pending, "an update is a role change or screening passed")
                #expect(data["joined_at"] is String && data["communication_disabled_until"] != nil)
                let key = "\(guild)/\(user)"
                if let before = known[key] {
                    // One plain role at a time, or none when screening was passed.
                    #expect(abs(roles.count - before.count) <= 1)
                    if roles.count > before.count { given += 1 } else if roles.count < before.count { taken += 1 }
                    #expect(Set(before).symmetricDifference(roles.map(\.description)).count == abs(roles.count - before.count))
                }
                known[key] = roles.map(\.description)
            case .message(let guild, let author, _, _, _, _, let roles):
                let data = try Self.object(event)
                guard data["webhook_id"] == nil || data["webhook_id"] is NSNull else { continue }
                let member = try #require(data["member"] as? [String: Any])
                #expect(member["roles"] as? [String] == roles.map(\.description), "the fact lists the roles the message does")
                // Only members through screening can post: Discord leaves `pending` out.
                #expect(member["pending"] == nil)
                let key = "\(guild)/\(author)"
                if let before = known[key] { #expect(before == roles.map(\.description)) }
                known[key] = roles.map(\.description)
                messagesChecked += 1
            case .memberJoined(let guild, let user, _, _, _):
                known["\(guild)/\(user.id)"] = []
            case .memberLeft(let guild, let user):
                known["\(guild)/\(user)"] = nil
            default:
                break
            }
        }
        #expect(given > 5 && taken > 5 && messagesChecked > 40_000, "\(given) given, \(taken) taken, \(messagesChecked) messages")
    }

    @Test func withoutRoleRulesAMessagesFactListsNoRoles() {
        var traffic = TrafficGenerator(world: Self.world, seed: 43)
        for _ in 0..<5_000 {
            if case .message(_, _, _, _, _, _, let roles) = traffic.nextEvent().fact { #expect(roles.isEmpty) }
        }
    }

    @Test func newcomersOfAScreeningGuildDoNothingUntilTheyPassIt() throws {
        #expect(Self.world.guilds.contains { Self.world.screensNewMembers($0) })
        #expect(Self.world.guilds.contains { !Self.world.screensNewMembers($0) })
        var traffic = TrafficGenerator(world: Self.world, seed: 44)
        var pending: [GuildID: Set<String>] = [:]
        var (pendingJoins, plainJoins, passed) = (0, 0, 0)
        var violations: [String] = []
        for position in 0..<60_000 {
            let event = traffic.nextEvent()
            func acted(_ user: String?) {
                if let user, pending[event.guild]?.contains(user) == true { violations.append("\(position): \(event.name) by pending \(user)") }
            }
            switch event.fact {
            case .memberJoined(let guild, let user, _, _, let isPending):
                let index = try #require(Self.world.guildIndex(of: guild))
                #expect(isPending == Self.world.screensNewMembers(Self.world.guilds[index]))
                #expect(try Self.object(event)["pending"] as? Bool == isPending)
                if isPending { pending[guild, default: []].insert(user.id.description) }
                if isPending { pendingJoins += 1 } else { plainJoins += 1 }
            case .memberUpdated(let guild, let user, _, _, _):
                if pending[guild]?.remove(user.description) != nil { passed += 1 }
            case .memberLeft(let guild, let user):
                pending[guild]?.remove(user.description)
            case .message(_, let author, _, _, _, _, _):
                acted(author.description)
            case .reaction(_, let giver, _, _, let added, _, _):
                if added { acted(giver.description) }
            case .interaction(_, _, _, _, let user, _):
                acted(user.description)
            default:
                if event.name == "TYPING_START" { acted(try Self.object(event)["user_id"] as? String) }
                if event.name == "THREAD_CREATE" { acted(try Self.object(event)["owner_id"] as? String) }
            }
        }
        #expect(violations.isEmpty, "\(violations.count): \(violations.prefix(5))")
        #expect(pendingJoins > 20 && plainJoins > 20 && passed > 10, "\(pendingJoins) pending joins, \(plainJoins) others, \(passed) passed")
    }

    @Test func raidersOfAScreeningGuildPassItBeforeTheyPost() throws {
        let index = try #require(Self.world.guilds.indices.first { Self.world.screensNewMembers(Self.world.guilds[$0]) })
        let guild = Self.world.guilds[index].id
        var traffic = TrafficGenerator(world: Self.world, seed: 45)
        traffic.startRaid(guild: guild, size: 30)
        var (raiders, waiting) = (Set<UserID>(), Set<UserID>())
        var raiderPosts = 0
        for _ in 0..<20_000 {
            let event = traffic.nextEvent()
            switch event.fact {
            case .memberJoined(guild, let user, _, true, let isPending):
                #expect(isPending)
                raiders.insert(user.id)
                waiting.insert(user.id)
            case .memberUpdated(guild, let user, _, false, _):
                waiting.remove(user)
            case .message(guild, let author, _, _, _, _, _) where raiders.contains(author):
                #expect(!waiting.contains(author), "a raider posted while pending")
                raiderPosts += 1
            default:
                break
            }
        }
        #expect(raiders.count == 30 && raiderPosts > 0, "\(raiders.count) raiders, \(raiderPosts) raider posts")
    }

    @Test func aPendingNewcomerOfAnEarlierSessionStaysPendingUntilItPasses() throws {
        let states = GuildStates(world: Self.world)
        var traffic = TrafficGenerator(world: Self.world, seed: 46)
        var newcomer: (guild: Int, user: UserID)?
        for _ in 0..<60_000 where newcomer == nil {
            let event = traffic.nextEvent()
            states.apply(event.fact)
            if case .memberJoined(let guild, let user, _, _, true) = event.fact {
                newcomer = (try #require(Self.world.guildIndex(of: guild)), user.id)
            }
        }
        let (guildIndex, user) = try #require(newcomer)
        let userIndex = try #require(traffic.userIndex(of: user))
        #expect(traffic.isPending(userIndex, inGuildAt: guildIndex))

        var next = TrafficGenerator(world: Self.world, seed: 47)
        next.adoptMembers(states.touchedGuilds(ofGuildsAt: [guildIndex]))
        #expect(next.isPending(userIndex, inGuildAt: guildIndex), "a new session's traffic keeps them waiting")

        states.apply(.memberUpdated(guild: Self.world.guilds[guildIndex].id, user: user, roles: [], pending: false))
        var after = TrafficGenerator(world: Self.world, seed: 48)
        after.adoptMembers(states.touchedGuilds(ofGuildsAt: [guildIndex]))
        #expect(!after.isPending(userIndex, inGuildAt: guildIndex))
        #expect(states.members(of: Self.world.guilds[guildIndex].id)?.first { $0.user.id == user }?.pending == false)
    }

    @Test func aScreeningGuildIsACommunityGuildWithARulesChannel() throws {
        let payloads = WorldPayloads(configuration: SimulatorConfiguration(world: Self.world))
        var checked: Set<Bool> = []
        for guild in Self.world.guilds {
            let created = try #require(try JSONSerialization.jsonObject(with: Data(payloads.guildCreate(guild, largeThreshold: 250).utf8)) as? [String: Any])
            let screens = Self.world.screensNewMembers(guild)
            let features = try #require(created["features"] as? [String])
            #expect(features == (screens ? ["COMMUNITY", "MEMBER_VERIFICATION_GATE_ENABLED"] : []))
            #expect(created["rules_channel_id"] as? String == (screens ? guild.channels[0].description : nil))
            checked.insert(screens)
        }
        #expect(checked == [true, false])
    }

    @Test func roleRulesJudgeTheRolesAMessageListed() {
        let guild = GuildID(1 << 30)
        let everyone = RoleID(guild.rawValue)
        let muted = RoleID(5 << 32), booster = RoleID(6 << 32), halved = RoleID(7 << 32)
        let boosted = ChannelID(11 << 32), plain = ChannelID(13 << 32)
        let rules = GroundTruth.Rules(
            channelMultipliers: [boosted: 1.5], noXPRoles: [muted], roleMultipliers: [booster: 2, halved: 0.5, everyone: 0.8], multiplier: 1.2)
        let truth = GroundTruth(rules: rules)
        var next = 0
        func post(_ user: UInt64, in channel: ChannelID, roles: [RoleID], to truth: GroundTruth, in guild: GuildID) -> MessageID {
            next += 1
            let id = MessageID(unixMilliseconds: 1_795_000_000_000 + UInt64(next) * 61_000, increment: UInt64(next))
            truth.apply(.message(guild: guild, author: UserID(user << 31), id: id, earnsXP: true, channel: channel, parent: nil, roles: roles))
            return id
        }
        func roll(_ id: MessageID) -> Double { Double(GroundTruth.xpRoll(messageID: id, rules: rules)) }
        func xp(_ user: UInt64) -> Int { truth.member(UserID(user << 31), in: guild).xp }

        // A no-XP role wins over any multiplier.
        _ = post(1, in: boosted, roles: [booster, muted], to: truth, in: guild)
        #expect(truth.member(UserID(1 << 31), in: guild).messages == 1 && xp(1) == 0)
        // @everyone's 0.8 is higher than 0.5: the highest role multiplier counts.
        let halvedPost = post(2, in: plain, roles: [halved], to: truth, in: guild)
        #expect(xp(2) == Int((roll(halvedPost) * 1.2 * 0.8).rounded()))
        // Guild, channel and highest role, in that order.
        let boosterPost = post(3, in: boosted, roles: [halved, booster], to: truth, in: guild)
        #expect(xp(3) == Int((roll(boosterPost) * 1.2 * 1.5 * 2).rounded()))
        let bare = post(4, in: plain, roles: [], to: truth, in: guild)
        #expect(xp(4) == Int((roll(bare) * 1.2 * 0.8).rounded()))

        // @everyone as a no-XP role: nobody in the guild earns.
        let closed = GroundTruth(rules: GroundTruth.Rules(noXPRoles: [everyone]))
        _ = post(5, in: plain, roles: [booster], to: closed, in: guild)
        #expect(closed.member(UserID(5 << 31), in: guild).messages == 1 && closed.member(UserID(5 << 31), in: guild).xp == 0)
        // ... but another guild's @everyone is not this one's.
        let elsewhere = GuildID(2 << 30)
        _ = post(5, in: plain, roles: [], to: closed, in: elsewhere)
        #expect(closed.member(UserID(5 << 31), in: elsewhere).xp > 0)

        // Joins and updates leave what a bot keeps of the member.
        truth.apply(.memberUpdated(guild: guild, user: UserID(2 << 31), roles: [booster], pending: false))
        #expect(truth.member(UserID(2 << 31), in: guild).roles == [booster] && truth.member(UserID(2 << 31), in: guild).pending == false)
        #expect(truth.member(UserID(4 << 31), in: guild).pending == nil)
    }

    /// Discord's member flag `DID_REJOIN`: whoever left a guild and came back carries it in every
    /// later member object — the traffic's, REST's and a later session's.
    @Test func whoeverLeftAndCameBackIsFlaggedAsRejoined() throws {
        // Few users, so those who come back are often those who left.
        let world = TrafficWorld(guildCount: 4, userCount: 300, seed: 43)
        let states = GuildStates(world: world)
        var traffic = TrafficGenerator(world: world, seed: 50)
        var left: [GuildID: Set<UserID>] = [:]
        var (rejoins, flaggedMessages) = (0, 0)
        var violations: [String] = []
        for position in 0..<60_000 {
            let event = traffic.nextEvent()
            states.apply(event.fact)
            switch event.fact {
            case .memberLeft(let guild, let user):
                left[guild, default: []].insert(user)
            case .memberJoined(let guild, let user, _, _, _):
                let rejoined = left[guild]?.contains(user.id) == true
                if try Self.object(event)["flags"] as? Int != (rejoined ? 1 : 0) { violations.append("\(position): join of \(user.id)") }
                if rejoined { rejoins += 1 }
            case .message(let guild, let author, _, _, _, _, _):
                guard let member = try Self.object(event)["member"] as? [String: Any] else { continue }
                let rejoined = left[guild]?.contains(author) == true
                if member["flags"] as? Int != (rejoined ? 1 : 0) { violations.append("\(position): message by \(author)") }
                if rejoined { flaggedMessages += 1 }
            default:
                break
            }
        }
        #expect(violations.isEmpty, "\(violations.count): \(violations.prefix(5))")
        #expect(rejoins > 20 && flaggedMessages > 100, "\(rejoins) rejoins, \(flaggedMessages) messages by them")

        // REST's members say the same; so does a new session's traffic, for one who is away now.
        var away: (guild: Int, user: Int)?
        for (index, guild) in world.guilds.enumerated() {
            let members = try #require(states.members(of: guild.id))
            for member in members { #expect(member.didRejoin == (left[guild.id]?.contains(member.user.id) == true)) }
            let present = Set(members.map(\.user.id))
            if let gone = left[guild.id]?.first(where: { !present.contains($0) }), let user = world.userIndex(of: gone) { away = (index, user) }
        }
        let (guildIndex, user) = try #require(away)
        var next = TrafficGenerator(world: world, seed: 51)
        next.adoptMembers(states.touchedGuilds(ofGuildsAt: [guildIndex]))
        #expect(next.memberFlags(of: PickedMember(user: user, joinedAt: 0, slot: nil), in: guildIndex) == 1)
    }
}

/// A role the traffic gives (a moderator, a role menu) lands on the roles the member holds when it
/// happens, as on Discord: a role a REST call gave after the traffic drew its update is kept — it
/// was lost, the traffic's list (drawn before the call) replacing the member's whole set.
struct TrafficRoleChangeTests {
    @Test func aRoleTheTrafficGivesKeepsOneRESTGaveMeanwhile() throws {
        let world = TrafficWorld(guildCount: 2, userCount: 40, seed: 77)
        let states = GuildStates(world: world)
        let guild = world.guilds[0]
        let user = world.users[guild.members[1]].id
        let roles = world.roles(of: guild).filter { $0.name.hasPrefix("role-") }.map(\.id)
        try #require(roles.count >= 2)
        let (reward, moderatorsRole) = (roles[0], roles[1])
        // The REST call: the reward given (as a PUT of the member's role does).
        let given = states.withGuild(guild.id) { guild, _ in
            guard var member = guild.members[user] else { return false }
            member.roles = [reward]
            guild.members[user] = member
            return true
        }
        #expect(given == true)
        // The traffic's update, drawn before the call: its list knows only the moderator's role.
        states.apply(.memberUpdated(
            guild: guild.id, user: user, roles: [moderatorsRole], pending: false, roleChanged: RoleChange(role: moderatorsRole, given: true)))
        let held = Set(states.members(of: guild.id)?.first { $0.user.id == user }?.roles ?? [])
        #expect(held == [reward, moderatorsRole])
        // And one it takes away goes, the rest stays.
        states.apply(.memberUpdated(
            guild: guild.id, user: user, roles: [], pending: false, roleChanged: RoleChange(role: moderatorsRole, given: false)))
        #expect(states.members(of: guild.id)?.first { $0.user.id == user }?.roles == [reward])
    }
}
