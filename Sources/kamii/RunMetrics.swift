import DiscordGateway
import KamiiShards
import Metrics
import Synchronization

/// What `kamii run` shows Prometheus: figures the process keeps anyway (each shard's dispatch
/// tally, the hot path's counters, the flusher's, rewarder's and checkpointer's totals), recorded
/// through swift-metrics when a scrape asks for them. No event pays for a metric.
final class RunMetrics: Sendable {
    let tally: DispatchTally
    let manager: ShardManager
    let hotPath: HotPathService?
    /// Each counter's value at the last scrape (swift-metrics counters only go up by amounts).
    private let reported = Mutex<[String: Int]>([:])

    init(tally: DispatchTally, manager: ShardManager, hotPath: HotPathService?) {
        self.tally = tally
        self.manager = manager
        self.hotPath = hotPath
        // Counted where they happen (the shard manager, the session budget), which make their
        // series at zero: the first stop or refusal is an increase an alert sees.
        ShardManager.makeMetricsAtZero()
    }

    /// Brings every metric up to the figures of now.
    func update() async {
        var counters: [(name: String, dimensions: [(String, String)], value: Int)] = tally.byName.map {
            ("kamii_gateway_dispatches_total", [("type", $0.key)], $0.value)
        }
        Gauge(label: "kamii_shards").record(await manager.plan?.shards.count ?? 0)
        Gauge(label: "kamii_shards_ready").record(await manager.readyShardCount())
        Gauge(label: "kamii_shards_waiting_for_lease").record(await manager.shardsWaitingForLease())
        if let hotPath {
            let router = hotPath.router
            let flushed = await hotPath.flusher.totals
            let rewards = hotPath.rewarder.totals
            counters += [
                ("kamii_hot_path_events_total", [], router.counters.routed),
                ("kamii_hot_path_messages_total", [], router.counters.messages),
                ("kamii_hot_path_xp_grants_total", [], router.counters.grants),
                ("kamii_hot_path_malformed_total", [], router.counters.malformed),
                ("kamii_stats_flushes_total", [], flushed.flushes),
                ("kamii_stats_flush_failures_total", [], flushed.failedAttempts),
                ("kamii_stats_changes_flushed_total", [], flushed.deltas),
                ("kamii_stats_xp_grants_applied_total", [], flushed.grantsApplied),
                ("kamii_stats_level_ups_total", [], flushed.levelUps),
                ("kamii_stats_guilds_loaded_total", [], flushed.hydrations),
                ("kamii_stats_broken_guild_batches_total", [], flushed.brokenGuildBatches),
                ("kamii_stats_changes_dropped_total", [], flushed.droppedChanges),
                ("kamii_stats_backpressure_waits_total", [], router.stats.backPressureWaits),
                ("kamii_rewards_roles_added_total", [], rewards.rolesAdded + rewards.rolesRestored),
                ("kamii_rewards_roles_removed_total", [], rewards.rolesRemoved),
                ("kamii_rewards_announcements_total", [], rewards.announcements),
                ("kamii_rewards_failures_total", [], rewards.failures),
                ("kamii_rewards_dropped_total", [], rewards.dropped),
                ("kamii_rewards_joins_given_up_total", [], rewards.joinsGivenUp),
                ("kamii_rewards_roles_withheld_total", [], rewards.rolesWithheld),
                ("kamii_rewards_held_for_budget_total", [], rewards.heldForBudget),
                ("kamii_stats_returning_members_total", [], flushed.joins),
            ]
            if let checkpointer = hotPath.checkpointer {
                let checkpoints = await checkpointer.totals
                counters += [
                    ("kamii_checkpoint_members_total", [], checkpoints.members),
                    ("kamii_checkpoint_failures_total", [], checkpoints.failures),
                    ("kamii_checkpoint_rows_not_written_total", [], checkpoints.rowsNotWritten),
                    ("kamii_checkpoint_unstorable_members_total", [], checkpoints.unstorableMembers),
                    ("kamii_checkpoint_unreadable_records_total", [], checkpoints.unreadableRecords),
                ]
                Gauge(label: "kamii_checkpoint_age_seconds").record(await checkpointer.age() / .seconds(1))
            }
            Gauge(label: "kamii_guild_actors").record(router.activeGuilds)
            Gauge(label: "kamii_stats_unflushed_changes").record(router.stats.unacknowledged)
            Gauge(label: "kamii_stats_flush_lag_seconds").record(await hotPath.flusher.lag() / .seconds(1))
            if let last = await hotPath.flusher.lastCompleteFlush {
                Gauge(label: "kamii_stats_last_flush_seconds").record(last.duration / .seconds(1))
            }
        }
        reported.withLock { reported in
            for counter in counters {
                let key = counter.name + counter.dimensions.map { "|\($0.0)=\($0.1)" }.joined()
                // Made even at zero: a failure counter is there to alert on before the first failure.
                let metric = Counter(label: counter.name, dimensions: counter.dimensions)
                let added = counter.value - reported[key, default: 0]
                guard added > 0 else { continue }
                metric.increment(by: added)
                reported[key] = counter.value
            }
        }
    }
}
