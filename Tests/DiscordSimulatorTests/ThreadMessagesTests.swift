import DiscordGateway
import DiscordModels
import DiscordSimulator
import KamiiTestSupport
import Foundation
import Testing

/// The bot posts in a thread as in any channel: in an active one; in an archived one, which its
/// message takes out of the archive (THREAD_UPDATE, and members post there again), as on Discord;
/// not in a deleted one (10003).
struct ThreadMessagesTests {
    /// Each thread's latest state by the dispatches so far: archived, open, or deleted (nil).
    private static func threadStates(_ all: [(name: String, data: [String: Any])]) -> [String: Bool?] {
        threadChanges(all).mapValues(\.state)
    }

    /// Each thread's latest state and where it was last changed among the dispatches.
    private static func threadChanges(_ all: [(name: String, data: [String: Any])]) -> [String: (state: Bool?, at: Int)] {
        var states: [String: (state: Bool?, at: Int)] = [:]
        for (position, (name, data)) in all.enumerated() {
            guard let id = data["id"] as? String else { continue }
            switch name {
            case "THREAD_CREATE", "THREAD_UPDATE":
                states[id] = ((data["thread_metadata"] as? [String: Any])?["archived"] as? Bool == true, position)
            case "THREAD_DELETE":
                states[id] = (nil, position)
            default:
                break
            }
        }
        return states
    }

    @Test func theBotPostsInActiveAndArchivedThreadsAndNotInDeletedOnes() async throws {
        let world = TrafficWorld(guildCount: 1, userCount: 200, seed: 47)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 1_000))
        let shard = testShard(server, intents: [.guilds, .guildMessages])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        let client = HTTPTestClient(base: server.apiBaseURL, token: server.configuration.token)
        let beforePosts = received.count
        // The traffic goes on meanwhile: a thread picked may be deleted before the bot's post
        // reaches it (10003, and its THREAD_DELETE follows) — then others are picked.
        var picked: (open: String, archived: String, deleted: String)?
        var tried: Set<String> = []
        for _ in 0..<5 where picked == nil {
            var candidates: (open: String, archived: String, deleted: String)?
            try await waitUntil("threads open, archived and deleted", timeout: .seconds(30)) {
                // The latest of each: a guild keeps its last archived threads only, as Discord lists them.
                let changes = Self.threadChanges(received.all).filter { !tried.contains($0.key) }.sorted { $0.value.at > $1.value.at }
                guard let open = changes.first(where: { $0.value.state == false })?.key,
                      let archived = changes.first(where: { $0.value.state == true })?.key,
                      let deleted = changes.first(where: { $0.value.state == nil })?.key
                else { return false }
                candidates = (open, archived, deleted)
                return true
            }
            let chosen = try #require(candidates)
            var goneMeanwhile = false
            for thread in [chosen.open, chosen.archived] where !goneMeanwhile {
                tried.insert(thread)
                let posted = try await client.send("POST", "/channels/\(thread)/messages", json: ["content": "level up!"])
                if posted.status == 404, posted.object["code"] as? Int == 10003 {
                    try await waitUntil("the THREAD_DELETE of \(thread), which the bot's post missed", timeout: .seconds(10)) {
                        Self.threadStates(received.all)[thread] == .some(nil)
                    }
                    goneMeanwhile = true
                    continue
                }
                #expect(posted.status == 200, "\(posted.text)")
                #expect(posted.object["channel_id"] as? String == thread)
            }
            if !goneMeanwhile { picked = chosen }
        }
        let (open, archived, deleted) = try #require(picked)
        let text = world.guilds[0].channels[0].description
        #expect(try await client.send("POST", "/channels/\(text)/messages", json: ["content": "hello"]).status == 200)
        let refused = try await client.send("POST", "/channels/\(deleted)/messages", json: ["content": "level up!"])
        #expect(refused.status == 404 && refused.object["code"] as? Int == 10003, "\(refused.text)")
        let bot = server.configuration.botUserID.description
        /// Where messages in `thread` are, and whether the bot wrote each.
        func messages(in thread: String) -> [(position: Int, byBot: Bool)] {
            received.all.enumerated().filter { $0.element.name == "MESSAGE_CREATE" && $0.element.data["channel_id"] as? String == thread }.map {
                ($0.offset, ($0.element.data["author"] as? [String: Any])?["id"] as? String == bot)
            }
        }
        try await waitUntil("the bot's messages, and members posting after it in the thread it took out of the archive", timeout: .seconds(30)) {
            guard messages(in: text).contains(where: \.byBot), messages(in: open).filter(\.byBot).count == 1, let botPost = messages(in: archived).first(where: \.byBot)?.position else { return false }
            return messages(in: archived).contains { !$0.byBot && $0.position > botPost }
        }
        // The bot's message came after a THREAD_UPDATE taking the thread out of the archive, sent
        // since the bot posted (REST's; the traffic's own would have to fall in those milliseconds).
        let all = received.all
        let botPost = try #require(messages(in: archived).first(where: \.byBot)?.position)
        // MESSAGE_CREATE's extra field, as the traffic's own messages in threads carry it.
        #expect(all[botPost].data["channel_type"] as? Int == 11)
        #expect(posted(by: bot, in: open, all)?["channel_type"] as? Int == 11)
        #expect(posted(by: bot, in: text, all)?["channel_type"] as? Int == 0)
        // And the author's partial member, as Discord's guild messages have it — the bot's own too.
        for posting in [posted(by: bot, in: text, all), posted(by: bot, in: open, all)] {
            let member = try #require(posting?["member"] as? [String: Any], "\(posting ?? [:])")
            #expect((member["roles"] as? [String])?.count == 1 && member["joined_at"] is String && member["user"] == nil)
        }
        #expect(Self.threadStates(Array(all[..<botPost]))[archived] == .some(false))
        #expect(all[beforePosts..<botPost].contains {
            $0.name == "THREAD_UPDATE" && $0.data["id"] as? String == archived
                && ($0.data["thread_metadata"] as? [String: Any])?["archived"] as? Bool == false
        })
        await shard.shutdown()
        _ = await stopped
        try await server.stop()
    }

    private func posted(by user: String, in channel: String, _ all: [(name: String, data: [String: Any])]) -> [String: Any]? {
        all.first {
            $0.name == "MESSAGE_CREATE" && $0.data["channel_id"] as? String == channel && ($0.data["author"] as? [String: Any])?["id"] as? String == user
        }?.data
    }
}
