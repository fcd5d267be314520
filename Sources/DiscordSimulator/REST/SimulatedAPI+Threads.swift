import DiscordModels
import Foundation

/// Threads through REST. The bot posts in a thread as in any channel, with View Channel and Send
/// Messages in Threads in its parent; a message takes an archived thread out of the archive, as on
/// Discord ("sending a message will automatically unarchive the thread, unless the thread has been
/// locked by a moderator" — the simulator's threads are never locked); a deleted thread, or one
/// whose channel was deleted, is unknown (10003).
extension SimulatedAPI {
    /// The message `fields` make in thread `id`, already dispatched; nil when `id` names no thread.
    func createMessage(inThread id: ChannelID, _ fields: [String: Any]) throws(DiscordError) -> [String: Any]? {
        guard let found = guilds.threads.thread(id) else { return nil }
        let guildID = world.guilds[found.guildIndex].id
        let inParent = guilds.withChannel(found.thread.parent) { parent, guild in guild.map { (botPermissions(in: parent, of: $0), botMessageMember($0)) } }
        guard let (permissions, member) = inParent ?? nil else { throw .unknownChannel }
        guard permissions.contains(.viewChannel) else { throw .missingAccess }
        guard permissions.contains(.sendMessagesInThreads) else { throw .missingPermissions }
        var events: [(name: String, data: [String: Any], change: TrafficChange?)] = []
        if found.archived, guilds.threads.unarchive(id, ofGuildAt: found.guildIndex) {
            var json = JSONBytes()
            // Later sessions' traffic clocks run days ahead of the wall clock: never before the thread was made.
            let now = max(DiscordTimestamp.nowUnixMilliseconds(), found.thread.createdAt)
            TrafficGenerator.renderThread(found.thread, guild: guildID, archived: false, archivedAt: now, newlyCreated: false, into: &json)
            let object = (try? JSONSerialization.jsonObject(with: Data(json.bytes))) as? [String: Any] ?? [:]
            events.append(("THREAD_UPDATE", object, .threadUnarchived(id)))
        }
        let created = message(fields, channel: id, guild: guildID)
        // The simulator's threads are public ones (type 11). One delivery: the thread comes out of
        // the archive and gets the bot's message in one step of each session.
        events.append(("MESSAGE_CREATE", Self.dispatched(created, channelType: 11, member: member), nil))
        broadcast(events, guild: guildID)
        return created
    }
}
