import KamiiCore
import KamiiRedis
import KamiiStats
import Logging
import ServiceLifecycle

/// The hot path as a service: the guild router the shards feed, the stats flusher, and the sweep
/// that evicts idle guild actors. It is listed before the shards, so on shutdown it stops after
/// them: the shards close first, then everything they delivered is flushed to Redis.
final class HotPathService: Service, Sendable {
    let router: GuildRouter
    let flusher: StatsFlusher
    let idle: Duration
    let logger: Logger

    init(settings: RunConfiguration.HotPathSettings, redis: RedisClient, guilds: any GuildSettingsSource, logger: Logger) {
        let buffer = StatsBuffer(capacity: settings.bufferCapacity, flushThreshold: settings.flushThreshold)
        router = GuildRouter(stats: buffer, settings: guilds)
        flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(interval: settings.flushInterval, keys: StatsKeys(prefix: settings.keyPrefix)),
            logger: logger)
        idle = settings.guildIdle
        self.logger = logger
    }

    func run() async throws {
        let router = router
        let idle = idle
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.flusher.run() }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: min(idle, .seconds(60)))
                    router.evictIdle(olderThan: idle)
                }
            }
            // Shards are stopped by now (they shut down before this service): flush what is left.
            try? await gracefulShutdown()
            router.stats.finish()
            await group.next()
            group.cancelAll()
        }
        let totals = await flusher.totals
        logger.info("stats flushed", metadata: [
            "flushes": "\(totals.flushes)", "changes": "\(totals.deltas)", "xp_grants": "\(totals.grantsApplied)",
            "level_ups": "\(totals.levelUps)", "unflushed": "\(router.stats.unacknowledged)",
        ])
    }
}
