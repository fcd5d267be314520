import DiscordModels
import Synchronization

/// The world's threads between sessions. On Discord a thread outlives the gateway session it was
/// opened in: a new session of the shard starts from its guilds' active and archived threads, its
/// GUILD_CREATEs list the active ones, and its messages go on in them.
final class WorldThreads: Sendable {
    /// By guild index.
    private let guilds = Mutex<[Int: TrafficGenerator.GuildThreads]>([:])

    /// The threads of the guilds at `indexes` (those with any).
    func threads(ofGuildsAt indexes: some Sequence<Int>) -> [Int: TrafficGenerator.GuildThreads] {
        guilds.withLock { guilds in
            var found: [Int: TrafficGenerator.GuildThreads] = [:]
            for index in indexes { if let threads = guilds[index] { found[index] = threads } }
            return found
        }
    }

    /// The thread `id`: its guild, and whether it is archived; nil when there is none (never opened,
    /// deleted, or gone with its channel). A scan of the guilds with threads: REST asks it, not the
    /// traffic.
    func thread(_ id: ChannelID) -> (guildIndex: Int, thread: TrafficGenerator.ActiveThread, archived: Bool)? {
        guilds.withLock { guilds in
            for (index, threads) in guilds {
                if let thread = threads.active.first(where: { $0.id == id }) { return (index, thread, false) }
                if let thread = threads.archived.first(where: { $0.id == id }) { return (index, thread, true) }
            }
            return nil
        }
    }

    /// Takes an archived thread out of the archive; false when it is not archived (any more).
    func unarchive(_ id: ChannelID, ofGuildAt index: Int) -> Bool {
        guilds.withLock { guilds in
            guard var threads = guilds[index], let position = threads.archived.firstIndex(where: { $0.id == id }) else { return false }
            threads.active.append(threads.archived.remove(at: position))
            guilds[index] = threads
            return true
        }
    }

    /// A guild's threads as a session's traffic left them.
    func update(_ threads: TrafficGenerator.GuildThreads, ofGuildAt index: Int) {
        guilds.withLock { $0[index] = threads.isEmpty ? nil : threads }
    }
}
