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

    /// A guild's threads as a session's traffic left them.
    func update(_ threads: TrafficGenerator.GuildThreads, ofGuildAt index: Int) {
        guilds.withLock { $0[index] = threads.isEmpty ? nil : threads }
    }
}
