import ArgumentParser
import DiscordGateway
import DiscordREST
import Foundation
import KamiiCore
import KamiiRedis
import KamiiShards
import KamiiStore
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization

/// `kamii run`: connects this process's shards to Discord (or any Discord-compatible endpoint) and
/// feeds their dispatches to the guild actors, whose XP and karma are flushed to Redis. Without
/// Redis it only counts the dispatches. SIGTERM or Ctrl-C closes every shard resumably, flushes
/// what they delivered, and saves the sessions for the next start; a second one stops at once
/// (``ShutdownSignals``).
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the bot's shards (configuration: a JSON file and KAMII_* environment variables).",
        discussion: """
            Settings (file key / environment variable): token / KAMII_TOKEN (keep it in the environment), \
            api_url / KAMII_API_URL, gateway_url / KAMII_GATEWAY_URL, intents / KAMII_INTENTS, \
            compression / KAMII_COMPRESSION, shards / KAMII_SHARDS ("auto" or a number), \
            shard_range / KAMII_SHARD_RANGE ("0-15") or cluster / KAMII_CLUSTER ("0/4"), \
            redis_url / KAMII_REDIS_URL, namespace / KAMII_NAMESPACE (default: the bot's ID), session_reserve / KAMII_SESSION_RESERVE, \
            identify_window_ms / KAMII_IDENTIFY_WINDOW_MS, stats_interval_seconds / KAMII_STATS_INTERVAL_SECONDS, \
            flush_interval_ms, flush_threshold, stats_buffer, stats_prefix, guild_idle_seconds, database_url, \
            checkpoint_interval_seconds, settings_poll_seconds, karma_memory_days, \
            metrics_port / KAMII_METRICS_PORT (Prometheus's /metrics; off unless set), metrics_host (default 127.0.0.1) \
            (same KAMII_ form). \
            The environment wins over the file.
            """)

    @Option(help: "A JSON configuration file (default: $KAMII_CONFIG, if set).") var config: String?
    @Flag(help: "Redraw a live view every second instead of logging a report line per interval.") var live = false

    /// Kamii's scripts use Redis 7.0 commands (`PEXPIREAT … NX/GT`): an older server is refused at
    /// start, with the reason, rather than by every flush later; settings that put data at risk
    /// (no append-only file, eviction) are logged. One that cannot be reached now is left to the
    /// flusher, which waits for it; one that refuses the credentials (or wants some) is refused here:
    /// waiting would not help.
    static func checkVersion(of redis: RedisClient, logger: Logger) async throws {
        let version: (major: Int, minor: Int)?
        do {
            version = try await redis.serverVersion()
        } catch let error as RedisError where error.needsAuthentication {
            throw ValidationError("redis_url: the server needs a password (redis://:PASSWORD@host), and the URL gives none")
        } catch RedisError.refused(let why) {
            throw ValidationError("redis_url: Redis refused the connection: \(why)")
        } catch {
            logger.warning("Redis not reachable at start; its version is not checked", metadata: ["error": "\(error)"])
            return
        }
        if let version, version.major < 7 {
            throw ValidationError("redis_url: Kamii needs Redis 7.0 or later; this server is \(version.major).\(version.minor)")
        }
        // Warned about, not refused: a test or demo Redis may rightly run without persistence.
        for warning in (try? await redis.durabilityWarnings()) ?? [] {
            logger.warning("Redis configuration puts data at risk: \(warning)")
        }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings: RunConfiguration
        let logLevel: Logger.Level
        do {
            settings = try RunConfiguration.load(path: RunEnvironment.configPath(option: config, in: environment), environment: environment)
            logLevel = try RunEnvironment.logLevel(in: environment)
        } catch let error as RunConfiguration.Invalid {
            // A setting refused or missing may be one given under a misspelt name.
            let hints = RunEnvironment.misspelt(in: environment).map { "\($0.given) is not a setting; did you mean \($0.meant)?" }
            throw ValidationError(([error.description] + hints).joined(separator: "\n"))
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = logLevel
            return handler
        }
        let logger = Logger(label: "kamii")
        for (given, meant) in RunEnvironment.misspelt(in: environment) {
            logger.warning("\(given) is not a setting kamii run reads (ignored); did you mean \(meant)?")
        }
        let rest = DiscordRESTClient(configuration: settings.restConfiguration())
        let redis = settings.redis.map { RedisClient(configuration: $0) }
        if let redis { try await Self.checkVersion(of: redis, logger: logger) }
        var managerConfiguration = settings.managerConfiguration()
        // With the hot path, sessions are saved only as far as its changes are in Redis.
        managerConfiguration.savesDurableSequence = redis != nil
        let manager = ShardManager(
            configuration: managerConfiguration, rest: rest, coordination: redis.map { .redis($0) } ?? .local, logger: logger)
        let store = try settings.databaseURL.map { url in
            do { return try KamiiStore(StoreConfiguration(url: url)) } catch { throw ValidationError("database_url: \(error)") }
        }
        if let store {
            // Forward-only and idempotent: a fresh database gets its schema, a current one is untouched.
            let applied = try await store.migrate()
            if !applied.isEmpty { logger.info("database migrated", metadata: ["versions": "\(applied)"]) }
        }
        let guilds: any GuildSettingsSource = store.map { StoreGuildSettings(store: $0) } ?? FixedGuildSettings()
        let hotPath = redis.map {
            HotPathService(settings: settings.hotPath, redis: $0, guilds: guilds, store: store, manager: manager, rest: rest, logger: logger)
        }
        if hotPath == nil { logger.warning("no redis_url: dispatches are counted, no XP or karma is kept") }
        let tally = DispatchTally()
        let shards = ShardsService(manager: manager, tally: tally, hotPath: hotPath)
        let reports = ReportService(
            manager: manager, tally: tally, hotPath: hotPath, redis: redis, interval: settings.statsInterval, live: live, logger: logger)
        var metricsEndpoint: MetricsEndpoint?
        if let address = settings.metrics {
            let registry = PrometheusCollectorRegistry()
            MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
            let metrics = RunMetrics(tally: tally, manager: manager, hotPath: hotPath)
            metricsEndpoint = MetricsEndpoint(host: address.host, port: address.port, render: {
                await metrics.update()
                return registry.emitToBuffer()
            }, logger: logger)
        }
        // A graceful shutdown stops them in reverse order, each after the one before has ended: the
        // shards, then the hot path (flushing all they delivered), and only then the reports and
        // the metrics, which show the drain as it goes.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let redis {
            // Before any request; stopped last, so what the others' last calls were refused is kept.
            let ledger = InvalidRequestLedger(redis: redis, rest: rest, host: ThisMachine.hostName, logger: logger)
            await ledger.carryOver()
            services.append(.init(service: ledger))
        }
        services.append(.init(service: reports))
        if let metricsEndpoint { services.append(.init(service: try await metricsEndpoint.bind())) }
        if let hotPath { services.append(.init(service: hotPath)) }
        // Shards that all stopped for good end the group gracefully, so their reasons are said.
        services.append(.init(service: shards, successTerminationBehavior: .gracefullyShutdownGroup))
        // No signals of the group's own: ShutdownSignals answers them, a second one stopping at once.
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let outcome = try await ShutdownSignals.run(group, logger: logger)
        await redis?.close()
        try? await store?.close()
        if outcome == .stoppedAtOnce {
            logger.warning("stopped at once", metadata: ["dispatches": "\(tally.total)"])
            throw ExitCode(1)
        }

        let failed = shards.stopReasons.filter { $0.value != .shutdown }
        logger.info("stopped", metadata: ["dispatches": "\(tally.total)", "by_type": "\(tally.summary)"])
        if !failed.isEmpty {
            for (shard, reason) in failed.sorted(by: { $0.key < $1.key }) {
                logger.critical("shard \(shard) stopped: \(reason)")
            }
            throw ExitCode(1)
        }
    }
}

/// The shards as a service: they run until every one stopped, or a graceful shutdown closes them.
final class ShardsService: Service, Sendable {
    let manager: ShardManager
    let tally: DispatchTally
    let hotPath: HotPathService?
    private let reasons = Mutex<[Int: ShardStateMachine.StopReason]>([:])

    init(manager: ShardManager, tally: DispatchTally, hotPath: HotPathService?) {
        self.manager = manager
        self.tally = tally
        self.hotPath = hotPath
    }

    var stopReasons: [Int: ShardStateMachine.StopReason] { reasons.withLock { $0 } }

    func run() async throws {
        let tally = tally
        let manager = manager
        let hotPath = hotPath
        let router = hotPath?.router
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                let stopped = try await manager.run(
                    consumers: { shard in
                        // What belongs to the shard, looked up once: its tally, its lane.
                        let counter = tally.shard(shard)
                        let lane = router?.stats.lane(for: shard)
                        return { dispatch in
                            counter.count(dispatch.name)
                            await router?.route(dispatch, lane: lane)
                        }
                    },
                    prepare: { plan, starting in await hotPath?.shardsStarting(starting, of: plan.shardCount) },
                    released: { shards in hotPath?.shardsReleased(shards) },
                    // Given back by the hot path once it has flushed what the shards delivered.
                    releasingLeases: hotPath == nil)
                self.reasons.withLock { $0 = stopped }
            }
            group.addTask {
                // Returns when the group shuts down gracefully; cancelled when the shards end first.
                try await gracefulShutdown()
                // A shard held back by a full stats buffer (Redis down) must still be able to close.
                router?.stats.stopHoldingBack()
                await manager.shutdown()
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
