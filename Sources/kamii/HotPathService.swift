import DiscordModels
import DiscordREST
import KamiiCore
import KamiiRedis
import KamiiRewards
import KamiiShards
import KamiiStats
import KamiiStore
import Logging
import ServiceLifecycle

/// The hot path as a service: the guild router the shards feed, the stats flusher, the sweep that
/// evicts idle guild actors, the level-up rewarder (reward roles, announcements) and, with a SQL
/// store, the checkpointer. It is listed before the
/// shards, so on shutdown it stops after them: the shards close first, then everything they
/// delivered is flushed to Redis, then checkpointed to SQL.
final class HotPathService: Service, Sendable {
    let router: GuildRouter
    let flusher: StatsFlusher
    let checkpointer: Checkpointer?
    let rewarder: LevelUpRewarder
    /// With a SQL store: what admins save reaches the guild actors and the rewarder.
    let watcher: GuildSettingsWatcher?
    let settings: RunConfiguration.HotPathSettings
    let threadMaps: StoredThreadParents
    /// Its shard leases are given back once what the shards delivered is flushed.
    let manager: ShardManager
    let logger: Logger
    /// Which guilds' level-ups and joins are this process's to carry out, once its shards are
    /// planned (``shardsStarting(_:of:)``).
    private let ownership: ShardOwnership
    /// The plan, once made: the rewarder starts after it.
    private let plans: AsyncStream<(shards: Set<Int>, count: Int)>
    private let planned: AsyncStream<(shards: Set<Int>, count: Int)>.Continuation

    /// - Parameter manager: told after each flush how far each shard's dispatches are in Redis, so
    ///   the sessions it saves resume a killed process from there (nothing lost, nothing twice).
    init(
        settings: RunConfiguration.HotPathSettings, redis: RedisClient, guilds: any GuildSettingsSource, store: KamiiStore?,
        manager: ShardManager, rest: DiscordRESTClient, logger: Logger
    ) {
        let buffer = StatsBuffer(capacity: settings.bufferCapacity, flushThreshold: settings.flushThreshold)
        let keys = StatsKeys(prefix: settings.keyPrefix)
        let router = GuildRouter(stats: buffer, settings: guilds)
        self.router = router
        let ownership = ShardOwnership()
        self.ownership = ownership
        let rewarder = LevelUpRewarder(
            settings: guilds, actions: RESTLevelUpActions(client: rest), levels: StatsReader(redis: redis, keys: keys),
            backlog: LevelUpBacklog(redis: redis, keys: keys), owns: { ownership.owns($0) }, logger: logger)
        self.rewarder = rewarder
        flusher = StatsFlusher(
            buffer: buffer, redis: redis,
            configuration: .init(interval: settings.flushInterval, keys: keys, karmaMemory: settings.karmaMemory, writesChangeJournal: store != nil),
            hydrator: store.map { StoreHydrator(store: $0) },
            onDurable: { positions in await manager.markDurable(positions.mapValues { ($0.session, $0.sequence) }) },
            durableWrites: { positions in
                await manager.sessionRecords(at: positions.mapValues { ($0.session, $0.sequence) }).map { ($0.key, $0.value, $0.ttlMilliseconds) }
            },
            onUnreportedLevelUps: { guilds in rewarder.lookAgain(at: guilds) },
            logger: logger)
        checkpointer = store.map { Checkpointer(store: $0, redis: redis, keys: keys, logger: logger) }
        watcher = store.map { store in
            GuildSettingsWatcher(store: store, logger: logger) { guilds in
                for guild in guilds {
                    router.settingsChanged(guild)
                    rewarder.settingsChanged(guild)
                }
            }
        }
        self.settings = settings
        threadMaps = StoredThreadParents(redis: redis, keys: keys)
        self.manager = manager
        self.logger = logger
        (plans, planned) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// `shards` are about to connect (at the start, or once their lease is taken from a process
    /// that let them go): their guilds are this process's, and what Redis keeps for them is read in.
    /// Later ones' waiting level-ups (the other process's) are read at the rewarder's next retry.
    func shardsStarting(_ shards: Set<Int>, of shardCount: Int) async {
        if ownership.starting(shards, of: shardCount) {
            planned.yield((shards, shardCount))
        } else {
            rewarder.readWaitingAgain()
        }
        await restoreThreadParents(shards: shards, of: shardCount)
    }

    /// `shards` were lost to another process: it carries out their guilds' level-ups now.
    func shardsReleased(_ shards: Set<Int>) {
        ownership.released(shards)
    }

    /// Reads the thread maps Redis keeps for the guilds of `shards` into the router; called before
    /// the shards connect, so a resumed session's first thread messages follow their channels' rules.
    func restoreThreadParents(shards: Set<Int>, of shardCount: Int) async {
        do {
            let loaded = try await threadMaps.load(into: router.threads, shards: shards, of: shardCount)
            if loaded.guilds > 0 {
                logger.info("thread maps restored", metadata: ["guilds": "\(loaded.guilds)", "threads": "\(loaded.threads)"])
            }
            if !loaded.unreadable.isEmpty {
                logger.error("guilds' thread map keys are not what Kamii writes; skipped", metadata: [
                    "guilds": "\(loaded.unreadable.count)", "first": "\(loaded.unreadable[0])",
                ])
            }
        } catch {
            // What Redis kept is not known: whole-guild lists replace it rather than being compared.
            router.threads.storedMapsAreUnknown()
            logger.warning("thread maps not restored: threads are learnt from events only", metadata: ["error": "\(error)"])
        }
    }

    func run() async throws {
        let router = router
        let idle = settings.guildIdle
        let checkpointInterval = settings.checkpointInterval
        // Read before the flusher starts, so nothing this run flushes is among them.
        let waiting = await rewarder.waitingLevelUps()
        let waitingJoins = await rewarder.waitingJoins()
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.flusher.run() }
            // Ends once the flusher has (its level-up and join streams finish with it).
            group.addTask {
                // Only the level-ups of this process's guilds: in a cluster, each process carries out
                // its own (two doing one guild's would race, one's replacing undone by the other's).
                // No level-up comes before the plan: the shards connect after it.
                var plans = self.plans.makeAsyncIterator()
                _ = await plans.next()
                await self.rewarder.run(
                    self.flusher.levelUps, joins: self.flusher.joins, waiting: waiting.filter { self.ownership.owns($0.guild) },
                    waitingJoins: waitingJoins.filter { self.ownership.owns($0.guild) })
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: min(idle, .seconds(60)))
                    router.evictIdle(olderThan: idle)
                }
            }
            if let watcher {
                let interval = settings.settingsPoll
                group.addTask { await watcher.run(every: interval) }
            }
            if let checkpointer {
                group.addTask {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: checkpointInterval) } catch { return }
                        await checkpointer.checkpoint()
                    }
                }
            }
            // Shards are stopped by now (they shut down before this service): flush what is left.
            try? await gracefulShutdown()
            planned.finish()
            router.stats.finish()
            await group.next()
            // The flusher is done; the rewarder finishes the level-ups it holds, for a while at most
            // (Discord may be slow or unreachable).
            group.addTask { try? await Task.sleep(for: .seconds(10)) }
            await group.next()
            group.cancelAll()
        }
        // Everything the shards delivered is in Redis, with the sessions that resume from there,
        // and its level-ups carried out: a process waiting for the shards may take them now
        // (not after the checkpoint, which can wait on SQL for a minute).
        if !Task.isCancelled { await manager.releaseLeases() }
        // Stopped at once (a second signal): no last checkpoint — it could wait on SQL for as long
        // as SQL takes; the next start's checkpoints copy what Redis holds.
        if let checkpointer, !Task.isCancelled {
            // Another process's checkpoint may be running: this one's last marks wait for it to end.
            let report = await checkpointer.checkpoint(waitingUpTo: .seconds(60))
            if report.leftToAnother {
                logger.warning("another process's checkpoint ran past a minute; it, or the next, copies this one's last changes to SQL")
            }
            logger.info("checkpointed to SQL", metadata: ["guilds": "\(report.guilds)", "members": "\(report.members)", "failures": "\(report.failures)"])
        }
        let totals = await flusher.totals
        logger.info("stats flushed", metadata: [
            "flushes": "\(totals.flushes)", "changes": "\(totals.deltas)", "xp_grants": "\(totals.grantsApplied)",
            "level_ups": "\(totals.levelUps)", "returning_members": "\(totals.joins)", "unflushed": "\(router.stats.unacknowledged)",
        ])
        let rewards = rewarder.totals
        logger.info("level-ups carried out", metadata: [
            "roles_added": "\(rewards.rolesAdded)", "roles_removed": "\(rewards.rolesRemoved)", "announcements": "\(rewards.announcements)",
            "roles_restored": "\(rewards.rolesRestored)",
            "failures": "\(rewards.failures)", "dropped": "\(rewards.dropped)",
        ])
    }
}
