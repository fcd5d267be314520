import DiscordModels
import KamiiCore
import KamiiRedis

/// The Redis commands that keep guilds' thread maps (``StatsKeys/threads(in:)``) as the flushed
/// stats have them, and what their replies mean.
///
/// Each command sets what the map is after the change (a whole map replaced, a thread's channel set,
/// a thread taken out), so sending them again — a flush retried after a lost reply — ends the same.
enum ThreadMapWrites {
    /// Appends the writes of `changes`; returns how many commands they are.
    static func append(_ changes: [UInt64: ThreadMapChange], keys: StatsKeys, to pipeline: inout RedisPipeline) -> Int {
        var commands = 0
        var listed: [UInt64] = []
        var unlisted: [UInt64] = []
        for (guild, change) in changes.sorted(by: { $0.key < $1.key }) where !change.isEmpty {
            let key = keys.threads(in: GuildID(guild))
            let set = change.parents.filter { $0.value != ThreadMapChange.forgotten }.sorted { $0.key < $1.key }
            if change.replacesAll {
                pipeline.append("DEL", key)
                commands += 1
            } else {
                let forgotten = change.parents.filter { $0.value == ThreadMapChange.forgotten }.keys.sorted()
                if !forgotten.isEmpty {
                    pipeline.beginCommand(arguments: 2 + forgotten.count)
                    pipeline.appendArgument("HDEL")
                    pipeline.appendArgument(key)
                    for thread in forgotten { pipeline.appendArgument(thread) }
                    commands += 1
                }
            }
            if !set.isEmpty {
                pipeline.beginCommand(arguments: 2 + 2 * set.count)
                pipeline.appendArgument("HSET")
                pipeline.appendArgument(key)
                for (thread, parent) in set {
                    pipeline.appendArgument(thread)
                    pipeline.appendArgument(parent)
                }
                commands += 1
                listed.append(guild)
            } else if change.replacesAll {
                unlisted.append(guild)
            }
        }
        for (command, guilds) in [("SADD", listed), ("SREM", unlisted)] where !guilds.isEmpty {
            pipeline.beginCommand(arguments: 2 + guilds.count)
            pipeline.appendArgument(command)
            pipeline.appendArgument(keys.threadGuilds)
            for guild in guilds { pipeline.appendArgument(guild) }
            commands += 1
        }
        return commands
    }

    /// What the replies of ``append(_:keys:to:)``'s commands say: written, unless an error may pass
    /// (`retry`: out of memory, read-only replica, …). A key that holds something else than Kamii
    /// writes there fails the same way every time: given up on, said once.
    static func judge(_ replies: ArraySlice<RedisValue>) -> (written: Bool, retry: String?, givenUp: [String]) {
        var givenUp: [String] = []
        for reply in replies {
            guard case .error(let message) = reply else { continue }
            if message.hasPrefix("WRONGTYPE") {
                givenUp.append(message)
            } else {
                return (false, message, givenUp)
            }
        }
        return (true, nil, givenUp)
    }
}
