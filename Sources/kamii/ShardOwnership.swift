import DiscordModels
import KamiiShards
import Synchronization

/// Which guilds are this process's: those of the shards it runs (with Redis, those whose lease it
/// holds). In a cluster, or while a deploy runs an old process beside the new one, each process
/// carries out its own guilds' level-ups and joins (two carrying out one guild's would race, one's
/// replacing undone by the other's). None before the plan.
final class ShardOwnership: Sendable {
    private let plan = Mutex<(shards: Set<Int>, count: Int)?>(nil)

    /// Adds `shards` (of `shardCount`); returns whether they are the first (the plan's start).
    @discardableResult
    func starting(_ shards: Set<Int>, of shardCount: Int) -> Bool {
        plan.withLock { plan in
            defer { plan = (shards.union(plan?.shards ?? []), shardCount) }
            return plan == nil
        }
    }

    /// `shards` are no longer this process's (their lease is lost).
    func released(_ shards: Set<Int>) {
        plan.withLock { plan in plan?.shards.subtract(shards) }
    }

    func owns(_ guild: GuildID) -> Bool {
        plan.withLock { plan in plan.map { $0.shards.contains(ShardPlan.shard(of: guild.rawValue, count: $0.count)) } ?? false }
    }
}
