import DiscordModels
import KamiiCore
import KamiiRedis

/// One flush: the guild batches it carries, its id, how it is written, and what its replies mean.
/// Guilds whose script ran (or had already run) leave it; the rest are sent again, same id.
struct PendingFlush {
    let id: String
    private(set) var batches: [UInt64: GuildStatsBatch]
    private let keys: StatsKeys
    private var order: [UInt64] = []

    init(id: String, batches: [UInt64: GuildStatsBatch], keys: StatsKeys) {
        self.id = id
        self.batches = batches
        self.keys = keys
    }

    struct Outcome {
        var applied = 0
        var grants = 0
        var deltas = 0
        var levelUps: [LevelUp] = []
        var scriptMissing = false
        var error: String?
    }

    /// One EVALSHA per guild, then one SADD naming the guilds for the checkpointer.
    mutating func pipeline(scriptHash: String) -> RedisPipeline {
        order = batches.keys.sorted()
        var pipeline = RedisPipeline(capacity: 64 * order.count + 1_024)
        for guild in order {
            append(batches[guild]!, of: GuildID(guild), to: &pipeline, scriptHash: scriptHash)
        }
        pipeline.beginCommand(arguments: 2 + order.count)
        pipeline.appendArgument("SADD")
        pipeline.appendArgument(keys.dirtyGuilds)
        for guild in order { pipeline.appendArgument(Int(bitPattern: UInt(guild))) }
        return pipeline
    }

    private func append(_ batch: GuildStatsBatch, of guild: GuildID, to pipeline: inout RedisPipeline, scriptHash: String) {
        var members: [UInt64: (messages: Int, karma: Int, grants: [GuildStatsBatch.Grant])] = [:]
        for (user, count) in batch.messages { members[user, default: (0, 0, [])].messages = count }
        for (user, change) in batch.karma { members[user, default: (0, 0, [])].karma = change }
        for grant in batch.grants { members[grant.user, default: (0, 0, [])].grants.append(grant) }
        let grantArguments = batch.grants.count * 2
        pipeline.beginCommand(arguments: 8 + members.count * 4 + grantArguments)
        pipeline.appendArgument("EVALSHA")
        pipeline.appendArgument(scriptHash)
        pipeline.appendArgument(1)
        pipeline.appendArgument(keys.batchMarker(in: guild))
        pipeline.appendArgument(id)
        pipeline.appendArgument(keys.guildPrefix(guild))
        pipeline.appendArgument(Int(batch.cooldownMilliseconds))
        pipeline.appendArgument(members.count)
        for (user, member) in members {
            pipeline.appendArgument(Int(bitPattern: UInt(user)))
            pipeline.appendArgument(member.messages)
            pipeline.appendArgument(member.karma)
            pipeline.appendArgument(member.grants.count)
            for grant in member.grants {
                pipeline.appendArgument(Int(grant.messageTime))
                pipeline.appendArgument(grant.xp)
            }
        }
    }

    /// Reads the replies of ``pipeline(scriptHash:)``: guilds that are done leave the flush.
    mutating func settle(_ replies: [RedisValue]) -> Outcome {
        var outcome = Outcome()
        for (index, guild) in order.enumerated() {
            guard index < replies.count else { break }
            switch replies[index] {
            case .array(let values):
                guard let batch = batches.removeValue(forKey: guild) else { continue }
                outcome.applied += 1
                outcome.deltas += batch.deltaCount
                outcome.grants += max(0, values.first?.int ?? 0)
                var rest = values.dropFirst()
                while let user = rest.popFirst()?.string.flatMap(UInt64.init), let level = rest.popFirst()?.int {
                    outcome.levelUps.append(LevelUp(guild: GuildID(guild), user: UserID(user), level: level))
                }
            case .error(let message) where message.hasPrefix("NOSCRIPT"):
                outcome.scriptMissing = true
                outcome.error = message
            case .error(let message):
                outcome.error = "guild \(guild): \(message)"
            default:
                outcome.error = "guild \(guild): unexpected reply \(replies[index])"
            }
        }
        return outcome
    }
}
