import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Discord sends a bot no event of a channel it may not view (nor of that channel's threads): the
/// traffic marks such events as not for the bot, and a reaction the bot never saw added counts for
/// nothing when it is taken back, even once the bot may view the channel again. A bot let in is
/// told the channel's active threads (THREAD_LIST_SYNC).
struct HiddenChannelTrafficTests {
    @Test func eventsOfAChannelTheBotMayNotViewAreNotTheBots() throws {
        let world = TrafficWorld(guildCount: 1, userCount: 200, seed: 5)
        var traffic = TrafficGenerator(world: world, seed: 3)
        let guild = world.guilds[0]
        let hidden = ChannelID(unixMilliseconds: guild.id.unixMilliseconds + 5_000, increment: 7)
        let denyBot = GuildStates.Overwrite(id: world.botRoleID(of: guild).rawValue, type: 0, allow: 0, deny: Permissions.viewChannel.rawValue)
        traffic.apply(.channelCreated(hidden, type: 0, overwrites: [denyBot]), in: guild.id)

        var threadsOfHidden: Set<String> = []
        /// Reactions added while hidden: message, user, emoji, burst.
        var unseenAdds: Set<String> = []
        func reactionKey(_ data: [String: Any]) -> String {
            let emoji = data["emoji"] as? [String: Any]
            return "\(data["message_id"] ?? ""):\(data["user_id"] ?? ""):\(emoji?["name"] ?? ""):\(emoji?["id"] ?? ""):\(data["burst"] ?? "")"
        }
        var (hiddenByKind, shownInHidden, hiddenElsewhere) = ([String: Int](), 0, 0)
        var (removalsOfUnseen, removalsOfUnseenCounted, removalsOfSeenInChannel) = (0, 0, 0)
        // Hidden for 30,000 steps at least, until the channel has active threads (from the first
        // moment it has, past those), then 70,000 steps visible: removals in one channel of the
        // guild's thirty are few.
        var opened: Int?
        var step = 0
        while step < (opened.map { $0 + 70_000 } ?? 60_000) {
            defer { step += 1 }
            let hiddenActive = opened == nil && step >= 30_000 ? traffic.threads(ofGuildAt: 0).active.filter { $0.parent == hidden }.count : 0
            if hiddenActive > 0 {
                opened = step
                // A new session's GUILD_CREATE lists no thread of the hidden channel, then lists them.
                func listed() throws -> [[String: Any]] {
                    try #require(try JSONSerialization.jsonObject(with: Data(traffic.renderedActiveThreads(ofGuildAt: 0).utf8)) as? [[String: Any]])
                }
                #expect(try listed().filter { $0["parent_id"] as? String == hidden.description }.isEmpty)
                // What a bot let in is told: the channel's active threads, each in the channel.
                let sync = try #require(try JSONSerialization.jsonObject(with: Data(traffic.threadListSync(of: hidden, guildAt: 0))) as? [String: Any])
                #expect(sync["channel_ids"] as? [String] == [hidden.description] && sync["guild_id"] as? String == guild.id.description)
                let synced = sync["threads"] as? [[String: Any]] ?? []
                #expect(synced.count == hiddenActive && synced.allSatisfy { $0["parent_id"] as? String == hidden.description })
                traffic.apply(.channelUpdated(hidden, overwrites: []), in: guild.id)
                #expect(try listed().filter { $0["parent_id"] as? String == hidden.description }.count == hiddenActive)
            }
            let event = traffic.nextEvent()
            let data = try #require(try JSONSerialization.jsonObject(with: Data(event.data)) as? [String: Any])
            if event.name == "THREAD_CREATE", data["parent_id"] as? String == hidden.description, let id = data["id"] as? String {
                threadsOfHidden.insert(id)
            }
            let channel = data["channel_id"] as? String ?? data["parent_id"] as? String
            let inHidden = channel.map { $0 == hidden.description || threadsOfHidden.contains($0) } ?? false
            if opened == nil {
                if inHidden, !event.botCanView { hiddenByKind[event.name, default: 0] += 1 }
                if inHidden, event.botCanView, event.name != "INTERACTION_CREATE" { shownInHidden += 1 }
                if !inHidden, !event.botCanView { hiddenElsewhere += 1 }
                if inHidden, event.name == "MESSAGE_REACTION_ADD" { unseenAdds.insert(reactionKey(data)) }
            } else {
                #expect(event.botCanView, "step \(step): \(event.name) after the bot may view the channel again")
                guard event.name == "MESSAGE_REACTION_REMOVE", inHidden else { continue }
                if unseenAdds.contains(reactionKey(data)) {
                    removalsOfUnseen += 1
                    if event.fact != .none { removalsOfUnseenCounted += 1 }
                } else {
                    removalsOfSeenInChannel += event.fact == .none ? 0 : 1
                }
            }
        }
        #expect(opened != nil, "the hidden channel had active threads within 60,000 steps")
        #expect(hiddenByKind["MESSAGE_CREATE", default: 0] > 50, "members post in the channel: \(hiddenByKind)")
        #expect(hiddenByKind["MESSAGE_REACTION_ADD", default: 0] > 0, "\(hiddenByKind)")
        #expect(shownInHidden == 0, "events of the hidden channel marked for the bot")
        #expect(hiddenElsewhere == 0, "events of other channels marked hidden")
        #expect(removalsOfUnseen > 0, "reactions added while hidden were taken back later")
        #expect(removalsOfUnseenCounted == 0, "a reaction the bot never saw added counted when taken back")
        #expect(removalsOfSeenInChannel > 0, "reactions added once visible count when taken back")
    }
}
