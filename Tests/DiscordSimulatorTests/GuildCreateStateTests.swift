import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Foundation
import Testing

/// A new session's GUILD_CREATE shows each guild as traffic and REST left it, as Discord's does:
/// members joined and gone in its count, channels made there, channels deleted gone (and the
/// system channel with them).
struct GuildCreateStateTests {
    @Test func aNewSessionsGuildCreateShowsWhatTrafficAndRESTChanged() async throws {
        let world = TrafficWorld(guildCount: 3, userCount: 300, seed: 17)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 3_000))
        let shard = testShard(server, intents: [.guilds, .guildMembers])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the guilds", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == 3 }

        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let (first, second, third) = (world.guilds[0], world.guilds[1], world.guilds[2])
        let created = try await client.send(
            "POST", "/guilds/\(first.id)/channels", json: ["name": "mod-log", "type": 0, "topic": #"say "hi" \ bye"#])
        #expect(created.status == 201, "\(created.text)")
        let createdID = try #require(created.object["id"] as? String)
        #expect(try await client.send("DELETE", "/channels/\(second.channels[0])").status == 200)
        var kicked = false
        for slot in 1..<third.members.count where !kicked {
            kicked = try await client.send("DELETE", "/guilds/\(third.id)/members/\(world.users[third.members[slot]].id)").status == 204
        }
        #expect(kicked)
        try await waitUntil("members coming and going, and some guild's count changed", timeout: .seconds(30)) {
            var net: [String: Int] = [:]
            for (name, data) in received.all where name.hasPrefix("GUILD_MEMBER_") {
                net[data["guild_id"] as? String ?? "", default: 0] += name == "GUILD_MEMBER_ADD" ? 1 : name == "GUILD_MEMBER_REMOVE" ? -1 : 0
            }
            return received.count(of: "GUILD_MEMBER_ADD") >= 2 && received.count(of: "GUILD_MEMBER_REMOVE") >= 2 && net.values.contains { $0 != 0 }
        }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("a new session's guilds", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == 6 }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        // The first session ended on op 9, after every event it drew: its member events are all there were.
        let all = received.all
        let secondReady = try #require(all.lastIndex { $0.name == "READY" })
        var expected: [String: Int] = [:]
        // Who is a member: an ADD for one already (Discord may send it again) changes no count.
        var members: [String: Set<String>] = [:]
        for guild in world.guilds { members[guild.id.description] = Set(guild.members.map { world.users[$0].id.description }) }
        for (name, data) in all[..<secondReady] {
            guard let guild = data["guild_id"] as? String ?? (name == "GUILD_CREATE" ? data["id"] as? String : nil) else { continue }
            let user = (data["user"] as? [String: Any])?["id"] as? String ?? ""
            switch name {
            case "GUILD_CREATE": expected[guild] = data["member_count"] as? Int
            case "GUILD_MEMBER_ADD": if members[guild, default: []].insert(user).inserted { expected[guild, default: 0] += 1 }
            case "GUILD_MEMBER_REMOVE": if members[guild]?.remove(user) != nil { expected[guild, default: 0] -= 1 }
            default: break
            }
        }
        let again = Dictionary(uniqueKeysWithValues: all[secondReady...].filter { $0.name == "GUILD_CREATE" }.map { ($0.data["id"] as? String ?? "", $0.data) })
        #expect(again.mapValues { $0["member_count"] as? Int } == expected.mapValues { Optional($0) })
        #expect(expected != Dictionary(uniqueKeysWithValues: all.filter { $0.name == "GUILD_CREATE" }.prefix(3).map { ($0.data["id"] as? String ?? "", $0.data["member_count"] as? Int ?? 0) }), "members came and went")

        let firstChannels = try #require(again[first.id.description]?["channels"] as? [[String: Any]])
        let made = try #require(firstChannels.first { $0["id"] as? String == createdID })
        #expect(made["name"] as? String == "mod-log" && made["topic"] as? String == #"say "hi" \ bye"#)
        #expect(firstChannels.count == first.channels.count + 1)
        let secondChannels = try #require(again[second.id.description]?["channels"] as? [[String: Any]])
        #expect(secondChannels.compactMap { $0["id"] as? String } == second.channels.dropFirst().map(\.description))
        #expect(again[second.id.description]?["system_channel_id"] is NSNull)
        #expect(again[third.id.description]?["system_channel_id"] as? String == third.channels[0].description)
    }

    /// A new session's traffic goes on from the members there are: across both sessions, no member
    /// is announced while a member, nobody leaves or posts who is not one (a member gone in the first
    /// session, or kicked through REST, stays gone; one who joined stays in).
    @Test func aNewSessionsTrafficGoesOnFromTheMembersThereAre() async throws {
        let world = TrafficWorld(guildCount: 3, userCount: 2_000, seed: 23)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 4_000))
        let shard = testShard(server, intents: [.guilds, .guildMembers, .guildMessages])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("members coming and going", timeout: .seconds(30)) {
            received.count(of: "GUILD_MEMBER_ADD") >= 15 && received.count(of: "GUILD_MEMBER_REMOVE") >= 15
        }
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        var kicked = false
        for slot in 1..<world.guilds[0].members.count where !kicked {
            kicked = try await client.send("DELETE", "/guilds/\(world.guilds[0].id)/members/\(world.users[world.guilds[0].members[slot]].id)").status == 204
        }
        #expect(kicked)
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        let (removes, messages) = (received.count(of: "GUILD_MEMBER_REMOVE"), received.count(of: "MESSAGE_CREATE"))
        try await waitUntil("the new session's traffic", timeout: .seconds(30)) {
            received.count(of: "READY") == 2 && received.count(of: "GUILD_MEMBER_REMOVE") >= removes + 15
                && received.count(of: "MESSAGE_CREATE") >= messages + 2_000
        }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        var members: [String: Set<String>] = [:]
        for guild in world.guilds { members[guild.id.description] = Set(guild.members.map { world.users[$0].id.description }) }
        var violations: [String] = []
        var joinedAt: [String: String] = [:]
        for (position, (name, data)) in received.all.enumerated() {
            guard let guild = data["guild_id"] as? String else { continue }
            switch name {
            case "GUILD_MEMBER_ADD":
                // Discord may announce a member again: as the member they are, since the join this
                // test saw (if it saw it).
                let user = (data["user"] as? [String: Any])?["id"] as? String ?? ""
                let said = data["joined_at"] as? String ?? ""
                if members[guild]?.insert(user).inserted == false, let joined = joinedAt["\(guild)/\(user)"], joined != said {
                    violations.append("\(position): \(user) announced again, joined \(said), not \(joined)")
                }
                joinedAt["\(guild)/\(user)"] = said
            case "GUILD_MEMBER_REMOVE":
                let user = (data["user"] as? [String: Any])?["id"] as? String ?? ""
                if members[guild]?.remove(user) == nil { violations.append("\(position): \(user) left, not a member") }
                joinedAt["\(guild)/\(user)"] = nil
            case "MESSAGE_CREATE":
                // A webhook's message has no member behind it.
                guard data["webhook_id"] == nil || data["webhook_id"] is NSNull else { continue }
                let author = (data["author"] as? [String: Any])?["id"] as? String ?? ""
                if members[guild]?.contains(author) != true { violations.append("\(position): \(author) posted, not a member") }
            default:
                break
            }
        }
        #expect(violations.isEmpty, "\(violations.count): \(violations.prefix(5))")
    }

    /// Joins and leaves a session's intents kept from it (no GUILD_MEMBERS) still happened: the next
    /// session's GUILD_CREATE counts them.
    @Test func membersComingAndGoingUnseenStillCount() async throws {
        let world = TrafficWorld(guildCount: 3, userCount: 2_000, seed: 29)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 4_000))
        func session(_ intents: GatewayIntents, until done: @escaping @Sendable (ReceivedDispatches) -> Bool) async throws -> ReceivedDispatches {
            let shard = testShard(server, intents: intents)
            let received = ReceivedDispatches()
            async let stopped = shard.run { received.add($0) }
            try await waitUntil("the session's traffic", timeout: .seconds(30)) { done(received) }
            await shard.shutdown()
            _ = await stopped
            return received
        }
        let unseen = try await session([.guilds, .guildMessages]) { $0.count(of: "MESSAGE_CREATE") >= 8_000 }
        #expect(unseen.count(of: "GUILD_MEMBER_ADD") == 0 && unseen.count(of: "GUILD_MEMBER_REMOVE") == 0)
        let next = try await session([.guilds]) { $0.count(of: "GUILD_CREATE") == 3 }
        try await server.stop()
        func counts(_ dispatches: ReceivedDispatches) -> [String: Int] {
            Dictionary(uniqueKeysWithValues: dispatches.all.filter { $0.name == "GUILD_CREATE" }.map {
                ($0.data["id"] as? String ?? "", $0.data["member_count"] as? Int ?? 0)
            })
        }
        #expect(counts(next) != counts(unseen), "members came and went while the first session did not see them")
    }

    /// A user banned through REST does not join the guild again — in the session that saw the ban
    /// nor in a later one — until the ban is lifted.
    @Test func theBannedDoNotJoinAgain() async throws {
        let world = TrafficWorld(guildCount: 2, userCount: 600, seed: 31)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 4_000))
        let shard = testShard(server, intents: [.guilds, .guildMembers, .guildModeration])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the guilds", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == 2 }
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let guild = world.guilds[0]
        let candidates = guild.members.dropFirst().prefix(200).map { world.users[$0].id.description }
        let answer = try await client.send("POST", "/guilds/\(guild.id)/bulk-ban", json: ["user_ids": candidates])
        let banned = Set(answer.object["banned_users"] as? [String] ?? [])
        #expect(banned.count >= 50, "\(answer.text)")
        // Members left and came back meanwhile: with 600 users, most who are not members are banned now.
        let adds = received.count(of: "GUILD_MEMBER_ADD")
        try await waitUntil("joins after the ban", timeout: .seconds(30)) { received.count(of: "GUILD_MEMBER_ADD") >= adds + 20 }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("joins in a new session", timeout: .seconds(30)) {
            received.count(of: "READY") == 2 && received.count(of: "GUILD_MEMBER_ADD") >= adds + 40
        }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()
        let all = received.all
        let banAt = try #require(all.firstIndex { $0.name == "GUILD_BAN_ADD" })
        let rejoined = all[banAt...].filter { $0.name == "GUILD_MEMBER_ADD" && $0.data["guild_id"] as? String == guild.id.description }
            .compactMap { ($0.data["user"] as? [String: Any])?["id"] as? String }.filter(banned.contains)
        #expect(rejoined.isEmpty, "banned users joined again: \(rejoined.prefix(5))")
        // And a ban always removes the member, even one whose join was drawn in the instant before it.
        var members = Set(guild.members.map { world.users[$0].id.description })
        let secondReady = try #require(all.lastIndex { $0.name == "READY" })
        for (name, data) in all[..<secondReady] where data["guild_id"] as? String == guild.id.description {
            let user = (data["user"] as? [String: Any])?["id"] as? String ?? ""
            if name == "GUILD_MEMBER_ADD" { members.insert(user) }
            if name == "GUILD_MEMBER_REMOVE" { members.remove(user) }
        }
        #expect(members.isDisjoint(with: banned), "banned users still members: \(members.intersection(banned).prefix(5))")
    }
}
