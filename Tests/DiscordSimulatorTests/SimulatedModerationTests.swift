import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Foundation
import Testing

/// What moderators do through REST reaches the simulator's traffic, as it would on Discord: nothing
/// is posted in a deleted channel or its threads, members post in a channel made for them, only
/// those its permission overwrites allow post in a locked channel, and a timed-out member neither
/// posts, reacts, types, opens threads nor uses commands until the timeout ends — in the session
/// that saw the change and in the next one.
struct SimulatedModerationTests {
    /// The channel an event happens in, and who acted in it (nil for events without one).
    private static func actor(of name: String, _ data: [String: Any]) -> (channel: String?, user: String?) {
        let channel = data["channel_id"] as? String
        switch name {
        case "MESSAGE_CREATE":
            // A webhook's post, or a system message naming the member (a join's), is not their act.
            let isWebhook = !(data["webhook_id"] == nil || data["webhook_id"] is NSNull)
            let isSystem = (data["type"] as? Int).map { $0 != 0 && $0 != 19 } ?? false
            return (channel, isWebhook || isSystem ? nil : (data["author"] as? [String: Any])?["id"] as? String)
        case "MESSAGE_REACTION_ADD", "TYPING_START": return (channel, data["user_id"] as? String)
        case "INTERACTION_CREATE": return (channel, ((data["member"] as? [String: Any])?["user"] as? [String: Any])?["id"] as? String)
        case "THREAD_CREATE": return (data["parent_id"] as? String, data["owner_id"] as? String)
        case "MESSAGE_REACTION_REMOVE", "MESSAGE_REACTION_REMOVE_ALL", "MESSAGE_REACTION_REMOVE_EMOJI": return (channel, nil)
        default: return (nil, nil)
        }
    }

    /// A simulator serving `world`'s traffic at 4,000 events a second, and a shard to it with the
    /// intents these tests watch.
    private static func serve(_ world: TrafficWorld) async throws -> (SimulatorServer, ShardConnection) {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 4_000))
        return (server, testShard(server, intents: [.guilds, .guildMembers, .guildMessages, .guildMessageReactions, .guildMessageTyping]))
    }

    @Test func deletedChannelsGetNoTrafficAndNewOnesDo() async throws {
        let world = TrafficWorld(guildCount: 2, userCount: 300, seed: 37)
        let (server, shard) = try await Self.serve(world)
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        let guild = world.guilds[0]
        // A channel with a thread in it, so the thread's traffic must end with its channel.
        try await waitUntil("a thread in the first guild", timeout: .seconds(30)) {
            received.decoded().contains { $0.name == "THREAD_CREATE" && $0.data["guild_id"] as? String == guild.id.description }
        }
        let opened = try #require(received.decoded().first { $0.name == "THREAD_CREATE" && $0.data["guild_id"] as? String == guild.id.description })
        let deleted = try #require(opened.data["parent_id"] as? String)
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        #expect(try await client.send("DELETE", "/channels/\(deleted)").status == 200)
        let created = try await client.send("POST", "/guilds/\(guild.id)/channels", json: ["name": "fresh-chat", "type": 0])
        let createdID = try #require(created.object["id"] as? String)
        let voice = try await client.send("POST", "/guilds/\(guild.id)/channels", json: ["name": "voice", "type": 2])
        let voiceID = try #require(voice.object["id"] as? String)

        func messages(in channel: String, from start: Int) -> Int {
            received.decoded(from: start).filter { $0.name == "MESSAGE_CREATE" && $0.data["channel_id"] as? String == channel }.count
        }
        try await waitUntil("messages in the new channel", timeout: .seconds(30)) { messages(in: createdID, from: 0) >= 5 }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("a new session", timeout: .seconds(30)) { received.count(of: "READY") == 2 }
        let secondSession = try #require(received.decoded().lastIndex { $0.name == "READY" })
        try await waitUntil("the new session's messages in the new channel", timeout: .seconds(30)) { messages(in: createdID, from: secondSession) >= 5 }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        let all = received.decoded()
        let deletedAt = try #require(all.firstIndex { $0.name == "CHANNEL_DELETE" && $0.data["id"] as? String == deleted })
        var gone: Set<String> = [deleted, voiceID]
        var violations: [String] = []
        for (position, (name, data)) in all.enumerated() {
            if name == "THREAD_CREATE", data["parent_id"] as? String == deleted, let id = data["id"] as? String { gone.insert(id) }
            guard position > deletedAt, let channel = Self.actor(of: name, data).channel, gone.contains(channel) else { continue }
            violations.append("\(position): \(name) in \(channel)")
        }
        #expect(violations.isEmpty, "\(violations.count) events in deleted channels: \(violations.prefix(5))")
        #expect(gone.count > 2, "the deleted channel had a thread")
        // The channel's traffic starts after the bot heard of it, never before.
        let createdAt = try #require(all.firstIndex { $0.name == "CHANNEL_CREATE" && $0.data["id"] as? String == createdID })
        let early = all[..<createdAt].filter { Self.actor(of: $0.name, $0.data).channel == createdID }.map(\.name)
        #expect(early.isEmpty, "events in the new channel before its CHANNEL_CREATE: \(early)")
        let secondGuildCreate = try #require(all[secondSession...].first { $0.name == "GUILD_CREATE" && $0.data["id"] as? String == guild.id.description })
        let threads = secondGuildCreate.data["threads"] as? [[String: Any]] ?? []
        #expect(!threads.contains { $0["parent_id"] as? String == deleted }, "the new session lists no thread of the deleted channel")
    }

    @Test func aChannelTheBotMayNotViewSendsItNothing() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 200, seed: 41)
        let (server, shard) = try await Self.serve(world)
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the guild", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == 1 }
        let guild = world.guilds[0]
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        // A staff channel the bot's own role may not view; members may.
        let view = String(Permissions.viewChannel.rawValue)
        let hidden = try await client.send("POST", "/guilds/\(guild.id)/channels", json: [
            "name": "staff", "type": 0,
            "permission_overwrites": [["id": world.botRoleID(of: guild).description, "type": 0, "deny": view]],
        ])
        let open = try await client.send("POST", "/guilds/\(guild.id)/channels", json: ["name": "open", "type": 0])
        let (hiddenID, openID) = (try #require(hidden.object["id"] as? String), try #require(open.object["id"] as? String))
        // Interactions excepted: Discord delivers them wherever they are used (`app_permissions` says what the bot may do there).
        func heard(in channel: String) -> Int {
            received.decoded().filter { $0.name != "INTERACTION_CREATE" && Self.actor(of: $0.name, $0.data).channel == channel }.count
        }
        try await waitUntil("messages in the open channel", timeout: .seconds(30)) { heard(in: openID) >= 20 }
        // Threads opened elsewhere meanwhile: members open them in the hidden channel too.
        let before = received.count(of: "THREAD_CREATE")
        try await waitUntil("threads opened", timeout: .seconds(60)) { received.count(of: "THREAD_CREATE") >= before + 20 }
        #expect(heard(in: hiddenID) == 0)
        // Without View Channel the bot holds no other permission there (Discord's implicit rule).
        for (method, path, body) in [("PATCH", "/channels/\(hiddenID)", ["name": "renamed"]), ("DELETE", "/channels/\(hiddenID)", nil),
                                     ("POST", "/channels/\(hiddenID)/messages", ["content": "hello"])] {
            let refused = try await client.send(method, path, json: body)
            #expect(refused.status == 403 && refused.object["code"] as? Int == 50001, "\(method) \(path): \(refused.text)")
        }
        // An admin lets the bot in: Discord tells it which threads are active there, then its traffic comes.
        let origin = server.apiBaseURL.replacingOccurrences(of: "/api/v10", with: "")
        let lifted = try await client.send("POST", origin + "/_simulator/channel-overwrites?channel=\(hiddenID)")
        #expect(lifted.status == 200, "\(lifted.text)")
        try await waitUntil("messages in the channel let in", timeout: .seconds(30)) { heard(in: hiddenID) >= 20 }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        // Every message the bot hears is in a channel or thread it was told of: threads of the
        // channel opened while it was hidden and still active come in the sync (which lists the
        // channel whether or not any are).
        let all = received.decoded()
        let sync = try #require(all.first { $0.name == "THREAD_LIST_SYNC" })
        #expect(sync.data["channel_ids"] as? [String] == [hiddenID])
        let synced = sync.data["threads"] as? [[String: Any]] ?? []
        #expect(synced.allSatisfy { $0["parent_id"] as? String == hiddenID })
        var known = Set<String>()
        var unknown: [String] = []
        for (name, data) in all {
            switch name {
            case "GUILD_CREATE":
                for key in ["channels", "threads"] { for item in data[key] as? [[String: Any]] ?? [] { known.insert(item["id"] as? String ?? "") } }
            case "CHANNEL_CREATE", "THREAD_CREATE", "THREAD_UPDATE":
                known.insert(data["id"] as? String ?? "")
            case "THREAD_LIST_SYNC":
                for thread in data["threads"] as? [[String: Any]] ?? [] { known.insert(thread["id"] as? String ?? "") }
            case "MESSAGE_CREATE":
                if let channel = data["channel_id"] as? String, !known.contains(channel) { unknown.append(channel) }
            default:
                break
            }
        }
        #expect(unknown.isEmpty, "messages in channels the bot was never told of: \(Set(unknown))")
    }

    @Test func timedOutMembersDoNotActUntilTheTimeoutEnds() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 60, seed: 41)
        let (server, shard) = try await Self.serve(world)
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("traffic", timeout: .seconds(30)) { received.count(of: "MESSAGE_CREATE") >= 200 }
        let guild = world.guilds[0]
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        /// When the timeout was asked for (it ends `seconds` later); nil when it was refused.
        func timeOut(_ user: String, for seconds: Double) async throws -> ContinuousClock.Instant? {
            while true {
                let sent = ContinuousClock.now
                let until = formatter.string(from: Date().addingTimeInterval(seconds))
                let answer = try await client.send("PATCH", "/guilds/\(guild.id)/members/\(user)", json: ["communication_disabled_until": until])
                // The route allows 10 calls per 10 s per guild.
                guard answer.status == 429 else { return answer.status == 200 ? sent : nil }
                try await Task.sleep(for: .seconds(answer.object["retry_after"] as? Double ?? 1))
            }
        }
        // Admins and the owner cannot be timed out; everyone else who posts can.
        var long: Set<String> = []
        for slot in 1..<guild.members.count where long.count < 10 {
            let user = world.users[guild.members[slot]]
            if try await timeOut(user.id.description, for: 600) != nil { long.insert(user.id.description) }
        }
        #expect(long.count == 10)
        // One more for ten seconds: they act again once it ends. (Ten, not a few: on a loaded
        // two-core machine its announcement has taken more than 3.5 s to arrive.)
        var short: (user: String, from: ContinuousClock.Instant)?
        for slot in (1..<guild.members.count).reversed() where short == nil {
            let user = world.users[guild.members[slot]].id.description
            if !long.contains(user), let from = try await timeOut(user, for: 10) { short = (user, from) }
        }
        let (shortUser, shortFrom) = try #require(short)
        // Its GUILD_MEMBER_UPDATE is in before the window closes: the check below starts from it.
        try await waitUntil("the short timeout announced", timeout: .seconds(30)) {
            received.decoded().contains {
                $0.name == "GUILD_MEMBER_UPDATE" && ($0.data["user"] as? [String: Any])?["id"] as? String == shortUser
                    && $0.data["communication_disabled_until"] is String
            }
        }
        // Else the window below would close after the timeout ended, and count their posts after it.
        try #require(ContinuousClock.now < shortFrom + .seconds(9.5), "the timeout was announced in time to judge it")
        try await Task.sleep(until: shortFrom + .seconds(9.5))
        let beforeExpiry = received.count
        try await Task.sleep(until: shortFrom + .seconds(10.5))
        let afterExpiry = received.count
        try await waitUntil("the short timeout's member posting again", timeout: .seconds(30)) {
            received.decoded(from: afterExpiry).contains { $0.name == "MESSAGE_CREATE" && Self.actor(of: $0.name, $0.data).user == shortUser }
        }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("a new session", timeout: .seconds(30)) { received.count(of: "READY") == 2 }
        let secondSession = received.count
        try await waitUntil("the new session's messages", timeout: .seconds(30)) { received.decoded(from: secondSession).filter { $0.name == "MESSAGE_CREATE" }.count >= 1_000 }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        let all = received.decoded()
        var violations: [String] = []
        var timedOut: Set<String> = []
        for (position, (name, data)) in all.enumerated() {
            // The traffic's own updates (a role given or taken) say whether the member is still
            // timed out; one that says not, while they are, would have lifted it.
            if name == "GUILD_MEMBER_UPDATE", let user = (data["user"] as? [String: Any])?["id"] as? String, long.contains(user) || user == shortUser {
                if data["communication_disabled_until"] is String {
                    if user != shortUser || position < beforeExpiry { timedOut.insert(user) }
                } else if timedOut.contains(user) {
                    violations.append("\(position): an update of \(user) says they are not timed out")
                }
            }
            if position == beforeExpiry { timedOut.remove(shortUser) }
            // Leaving does not end a timeout: whoever comes back within it comes back timed out.
            if name == "GUILD_MEMBER_ADD", let user = (data["user"] as? [String: Any])?["id"] as? String, timedOut.contains(user),
               !(data["communication_disabled_until"] is String) {
                violations.append("\(position): \(user) rejoined without their timeout")
            }
            guard let user = Self.actor(of: name, data).user, timedOut.contains(user) else { continue }
            violations.append("\(position): \(name) by \(user)")
        }
        let readies = all.indices.filter { all[$0].name == "READY" }
        #expect(violations.isEmpty, "\(violations.count) acts by timed-out members: \(violations.prefix(5)); sessions from \(readies)")
        #expect(timedOut == long, "every timeout was announced")
    }

    @Test func aLockedChannelHearsOnlyFromThoseItsOverwritesAllow() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 60, seed: 43)
        let (server, shard) = try await Self.serve(world)
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the guild", timeout: .seconds(30)) { received.count(of: "GUILD_CREATE") == 1 }
        let guild = world.guilds[0]
        let created = try #require(received.decoded().first { $0.name == "GUILD_CREATE" }?.data)
        let roles = created["roles"] as? [[String: Any]] ?? []
        func role(_ name: String) -> String? { roles.first { $0["name"] as? String == name }?["id"] as? String }
        let (admin, moderator) = (try #require(role("Admin")), try #require(role("Moderator")))
        let owner = try #require(created["owner_id"] as? String)
        let locked = guild.channels[0].description
        let allowed = world.users[guild.members[guild.members.count - 1]].id.description
        let (send, react, threads) = (UInt64(1) << 11, UInt64(1) << 6, (UInt64(1) << 35) | (UInt64(1) << 38))
        // A lockdown: nobody posts, reacts or opens threads — but moderators and one member may post.
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let answer = try await client.send("PATCH", "/channels/\(locked)", json: ["permission_overwrites": [
            ["id": guild.id.description, "type": 0, "deny": String(send | react | threads)],
            ["id": moderator, "type": 0, "allow": String(send)],
            ["id": allowed, "type": 1, "allow": String(send)],
        ]])
        #expect(answer.status == 200, "\(answer.text)")
        func postedByAllowed(from start: Int) -> Bool {
            received.decoded(from: start).contains {
                $0.name == "MESSAGE_CREATE" && $0.data["channel_id"] as? String == locked && Self.actor(of: $0.name, $0.data).user == allowed
            }
        }
        try await waitUntil("the allowed member posting in the locked channel", timeout: .seconds(30)) { postedByAllowed(from: 0) }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("a new session", timeout: .seconds(30)) { received.count(of: "READY") == 2 }
        let secondSession = try #require(received.decoded().lastIndex { $0.name == "READY" })
        try await waitUntil("the new session's messages", timeout: .seconds(30)) { received.decoded(from: secondSession).filter { $0.name == "MESSAGE_CREATE" }.count >= 3_000 }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        let all = received.decoded()
        let lockedAt = try #require(all.firstIndex { $0.name == "CHANNEL_UPDATE" && $0.data["id"] as? String == locked })
        var threadsOfLocked: Set<String> = []
        for (name, data) in all where name == "THREAD_CREATE" || name == "GUILD_CREATE" {
            let listed = name == "THREAD_CREATE" ? [data] : data["threads"] as? [[String: Any]] ?? []
            for thread in listed where thread["parent_id"] as? String == locked { threadsOfLocked.insert(thread["id"] as? String ?? "") }
        }
        // Roles as each member's latest member object showed them.
        var memberRoles: [String: [String]] = [:]
        var violations: [String] = []
        var heard = 0
        for (position, (name, data)) in all.enumerated() {
            let member = data["member"] as? [String: Any]
            let (channel, user) = Self.actor(of: name, data)
            if let user, let held = member?["roles"] as? [String] { memberRoles[user] = held }
            guard position > lockedAt, let channel, let user, channel == locked || threadsOfLocked.contains(channel) else { continue }
            let held = memberRoles[user] ?? []
            let isAdmin = user == owner || held.contains(admin)
            let maySend = isAdmin || held.contains(moderator) || user == allowed
            let mayAct: Bool = switch name {
            case "MESSAGE_CREATE", "TYPING_START": channel == locked ? maySend : isAdmin
            case "INTERACTION_CREATE": true
            default: isAdmin
            }
            if !mayAct { violations.append("\(position): \(name) by \(user) in \(channel == locked ? "the locked channel" : "its thread")") }
            if name == "MESSAGE_CREATE" { heard += 1 }
            // An interaction's member carries their permissions in the channel, overwrites applied.
            if name == "INTERACTION_CREATE", channel == locked, let text = member?["permissions"] as? String, let bits = UInt64(text),
               (bits & send != 0) != maySend {
                violations.append("\(position): \(user)'s permissions \(text) in the locked channel")
            }
        }
        #expect(violations.isEmpty, "\(violations.count): \(violations.prefix(5))")
        #expect(heard > 0, "the locked channel still heard from those allowed")
    }
}
