import DiscordModels
import KamiiShards
import Synchronization

/// Which guilds are this process's, once its shards are planned: in a cluster each process carries
/// out its own guilds' level-ups and joins (two carrying out one guild's would race, one's
/// replacing undone by the other's). None before the plan.
final class ShardOwnership: Sendable {
    private let plan = Mutex<(shards: Set<Int>, count: Int)?>(nil)

    func planned(_ shards: Set<Int>, of shardCount: Int) {
        plan.withLock { $0 = (shards, shardCount) }
    }

    func owns(_ guild: GuildID) -> Bool {
        plan.withLock { plan in plan.map { $0.shards.contains(ShardPlan.shard(of: guild.rawValue, count: $0.count)) } ?? false }
    }
}
