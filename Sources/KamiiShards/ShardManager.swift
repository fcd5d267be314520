public import DiscordGateway
public import DiscordREST
public import KamiiRedis
public import Logging
import DiscordModels
import Foundation
import Metrics

/// `GET /gateway/bot` failed, so no shard can be planned.
public struct GatewayBotUnavailable: Error, Sendable, CustomStringConvertible {
    public let underlying: String
    public var description: String {
        "cannot ask Discord how to shard (GET /gateway/bot): \(underlying) — check the token (KAMII_TOKEN) and api_url"
    }
}

/// An identify window shorter than Discord's 5 s, with shards that would connect to Discord.
public struct IdentifyWindowTooShort: Error, Sendable, CustomStringConvertible {
    public let gatewayURL: String
    public var description: String {
        "identify_window_ms below 5000 breaks Discord's identify rule, and /gateway/bot sends the shards to Discord's gateway (\(gatewayURL)): shorten it only against a simulator"
    }
}

/// A session reserve at or above the session starts Discord gives the bot a day.
public struct SessionReserveTooLarge: Error, Sendable, CustomStringConvertible {
    public let reserve: Int
    public let total: Int
    public var description: String {
        "session_reserve \(reserve) is not below the \(total) session starts Discord gives this bot a day: no shard could ever identify; set it below \(total)"
    }
}

/// Where a manager's shards coordinate: alone, or with every process of the bot through Redis
/// (identify leases, the session budget, saved sessions).
public enum ShardCoordination: Sendable {
    case local
    case redis(RedisClient)
}

/// Runs this process's shards of a bot: asks `GET /gateway/bot` how many shards and how much
/// identify concurrency, resumes the sessions an earlier process saved, starts the rest in order
/// through the identify gate, saves sessions as they go, and on ``shutdown()`` closes every shard
/// resumably and saves them a last time.
public actor ShardManager {
    public nonisolated let configuration: ShardManagerConfiguration
    private let rest: DiscordRESTClient
    let coordination: ShardCoordination
    let logger: Logger
    var shards: [Int: ShardConnection] = [:]
    var stopReasons: [Int: ShardStateMachine.StopReason] = [:]
    var shuttingDown = false
    /// Shards' waits (``wait(_:)``), cancelled at shutdown.
    private var sleepers: [Int: Task<Void, Never>] = [:]
    private var sleeperCount = 0
    var sessionStore: (any ShardSessionStore)?
    /// With Redis: the leases saying which of the plan's shards this process runs.
    var leases: ShardLeaseKeeper?
    /// The identify gate of the running plan: a shard whose lease is lost leaves its start order.
    var identifyGate: StartupIdentifyGate?
    /// Per shard, the taking of its lease the consumer was prepared for (`prepare`).
    var preparedGenerations: [Int: Int] = [:]
    /// Per shard, the consumer's preparation for it while it runs: shards taken together are
    /// prepared for in one call (reading their guilds' state once, not once per shard).
    var preparations: [Int: Task<Void, Never>] = [:]
    /// The consumer's `prepare`, for the plan being run.
    var prepareHandler: (@Sendable (Set<Int>) async -> Void)?
    /// The consumer's `released` (``run(consumers:prepare:released:releasingLeases:)``).
    var releasedHandler: (@Sendable (Set<Int>) async -> Void)?

    /// What `/gateway/bot` said and which shards this process runs; set once ``run(_:)`` started.
    public private(set) var plan: ShardPlan?
    /// Identifies the session budget refused (each shard then waits for the budget's reset).
    public private(set) var refusals = 0
    /// Shards that resumed a saved session at start instead of identifying.
    public private(set) var restoredSessions: Set<Int> = []

    public init(configuration: ShardManagerConfiguration, rest: DiscordRESTClient, coordination: ShardCoordination, logger: Logger = Logger(label: "kamii.shards")) {
        self.configuration = configuration
        self.rest = rest
        self.coordination = coordination
        self.logger = logger
    }

    /// The running shard of each ID (a shard restarted after a refusal is a new connection).
    public var connections: [Int: ShardConnection] { shards }

    /// How many shards are connected and past READY (or RESUMED) now.
    public func readyShardCount() async -> Int {
        var ready = 0
        for shard in shards.values where await shard.isReady { ready += 1 }
        return ready
    }

    /// Runs until every shard stopped: for good (a fatal close code, an identify loop) or because
    /// of ``shutdown()``. `consume` gets each shard's dispatches in order, awaited one by one.
    /// Returns why each shard stopped.
    public func run(_ consume: @escaping @Sendable (_ shard: Int, ShardDispatch) async -> Void) async throws -> [Int: ShardStateMachine.StopReason] {
        try await run(consumers: { shard in { await consume(shard, $0) } })
    }

    /// Like ``run(_:)``, with a consumer of its own for each shard, made once when the shard
    /// starts — it can keep what belongs to that shard (its lane in the stats buffer) instead of
    /// looking it up per dispatch. `prepare` runs before shards connect (what the consumers need of
    /// them, read beforehand): once the plan is known, with the shards that start now — all of the
    /// plan, or with Redis those whose lease this process took — and again for each shard whose
    /// lease it takes later. `released` hears of shards whose lease was lost, which close.
    /// With `releasingLeases` false the leases are still held, and renewed, when this returns,
    /// until the caller's ``releaseLeases()`` — after it has made durable what the shards delivered.
    public func run(
        consumers makeConsumer: @escaping @Sendable (_ shard: Int) -> @Sendable (ShardDispatch) async -> Void,
        prepare: (@Sendable (_ plan: ShardPlan, _ starting: Set<Int>) async -> Void)? = nil,
        released: (@Sendable (_ shards: Set<Int>) async -> Void)? = nil,
        releasingLeases: Bool = true
    ) async throws -> [Int: ShardStateMachine.StopReason] {
        var gateway: GatewayBot?
        var budgetWaitSaid = false
        while gateway == nil {
            do {
                gateway = try await rest.gatewayBot()
            } catch let error where Self.spentBudget(error) {
                // The IP's invalid requests of the last ten minutes (this process's, or carried
                // over from a process before it) leave nothing to ask with: wait, rather than exit
                // and be restarted in a loop that could not ask either.
                if !budgetWaitSaid {
                    budgetWaitSaid = true
                    logger.warning("waiting to ask Discord how to shard: \(error)")
                }
                await wait(.seconds(2))
                if shuttingDown { return [:] }
            } catch {
                throw GatewayBotUnavailable(underlying: "\(error)")
            }
        }
        guard let gateway else { return [:] }
        let gatewayURL = configuration.gatewayURL ?? gateway.url
        // Checked at load against the URLs an operator names; a REST proxy's answer can still be
        // Discord's own gateway. Before anything is agreed with other processes.
        if configuration.identifyWindow < .seconds(5), DiscordHosts.contains(URL(string: gatewayURL)?.host) {
            throw IdentifyWindowTooShort(gatewayURL: gatewayURL)
        }
        // A reserve Discord's whole day does not exceed would refuse every identify, every day.
        if configuration.sessionReserve >= gateway.sessionStartLimit.total {
            throw SessionReserveTooLarge(reserve: configuration.sessionReserve, total: gateway.sessionStartLimit.total)
        }
        let limit = gateway.sessionStartLimit
        let namespace = configuration.resolvedNamespace
        var plan = try ShardPlan(
            count: configuration.count, selection: configuration.selection, recommended: gateway.shards, maxConcurrency: limit.maxConcurrency)
        if case .automatic = configuration.count, configuration.selection != .all, case .redis(let redis) = coordination {
            plan = try await agreedPlan(plan, redis: redis, namespace: namespace, gateway: gateway)
        }
        self.plan = plan
        logger.info(
            "running shards", metadata: [
                "shards": "\(plan.shards.first ?? 0)…\(plan.shards.last ?? 0) of \(plan.shardCount)",
                "max_concurrency": "\(limit.maxConcurrency)", "session_starts_remaining": "\(limit.remaining)",
            ])

        releasedHandler = released
        let planned = plan
        prepareHandler = { shards in await prepare?(planned, shards) }
        let starting = await takeLeases(plan, namespace: namespace)
        if shuttingDown {
            if releasingLeases { await releaseLeases() }
            return [:]
        }
        // Before the sessions are read: their freshness is judged on reading them.
        await prepare?(plan, starting)
        let saved = await loadSessions(plan.shards.filter(starting.contains), of: plan, namespace: namespace)
        restoredSessions = Set(saved.keys)
        let gate = await makeGate(
            plan, limit: limit, namespace: namespace, firstIdentifies: plan.shards.filter { starting.contains($0) && saved[$0] == nil })
        identifyGate = gate
        // A lease lost before the gate was known: that shard must not hold its bucket's line.
        for id in starting where await leases?.holds(id) == false { await gate.forget(shard: id) }
        if shuttingDown {
            if releasingLeases { await releaseLeases() }
            return [:]
        }

        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.saveSessionsPeriodically()
                return false
            }
            for id in plan.shards {
                let shardConfiguration = configuration.shard(id, of: plan.shardCount, gatewayURL: gatewayURL)
                let waitsForLease = !starting.contains(id)
                group.addTask {
                    await self.runShard(shardConfiguration, resuming: saved[id], waitsForLease: waitsForLease, gate: gate, makeConsumer(id))
                    return true
                }
            }
            var running = plan.shards.count
            while running > 0, let wasShard = await group.next() {
                if wasShard { running -= 1 }
            }
            group.cancelAll()
        }
        await saveSessions()
        if releasingLeases { await releaseLeases() }
        return stopReasons
    }

    /// Whether a request was refused unsent because the invalid-request budget is spent.
    private static func spentBudget(_ error: RESTError) -> Bool {
        if case .invalidRequestBudgetExhausted = error.kind { return true }
        return false
    }

    /// Closes every shard with a resumable code; ``run(_:)`` then saves their sessions and returns.
    public func shutdown() async {
        shuttingDown = true
        await leases?.stop()
        for sleeper in sleepers.values { sleeper.cancel() }
        await withTaskGroup(of: Void.self) { group in
            for shard in shards.values { group.addTask { await shard.shutdown() } }
        }
    }

    private func runShard(
        _ shardConfiguration: ShardConfiguration, resuming saved: SavedSession?, waitsForLease: Bool, gate: StartupIdentifyGate,
        _ consume: @escaping @Sendable (ShardDispatch) async -> Void
    ) async {
        let id = shardConfiguration.shardID
        var resume = saved.map { (sessionID: $0.sessionID, sequence: $0.sequence, resumeURL: $0.resumeURL) }
        if waitsForLease {
            guard await passLeaseGate(id) else {
                stopReasons[id] = .shutdown
                return
            }
            // What the process that let it go saved with its last flush.
            resume = await loadSession(id).map { ($0.sessionID, $0.sequence, $0.resumeURL) }
        }
        // Each connection of the shard waits for its lease: one lost while it runs drops the
        // connection (``leasesLost(_:)``), and the shard resumes once the lease is back — its own
        // session from where it was, what it delivered still in its consumer's hands.
        var connectGate: (@Sendable () async -> Bool)?
        if leases != nil {
            connectGate = { @Sendable () async -> Bool in await self.passLeaseGate(id) }
        }
        while !shuttingDown {
            let shard = ShardConnection(
                configuration: shardConfiguration, resuming: resume, identifyGate: gate, connectGate: connectGate,
                connectFailed: { [logger] error, inARow in
                    // The first of a run, then every tenth: the backoff reaches a minute, so a shard
                    // that cannot connect says so about every ten minutes.
                    guard inARow == 1 || inARow.isMultiple(of: 10) else { return }
                    logger.warning("shard \(id) cannot connect to the gateway (\(inARow) in a row): \(error)")
                })
            resume = nil
            shards[id] = shard
            let reason = await shard.run { await consume($0) }
            if shuttingDown || Task.isCancelled {
                // A shard that stopped for good just before the shutdown keeps its reason (and so
                // its session is forgotten, not saved).
                switch reason {
                case .closed, .identifyLoop: stopReasons[id] = reason
                case .identifyRefused, .shutdown: stopReasons[id] = .shutdown
                }
                return
            }
            if case .identifyRefused(let why, let retryAfter?) = reason {
                // The session budget is at its reserve (wait for Discord's reset), or could not be
                // read (wait a moment): then start again.
                refusals += 1
                logger.warning("shard \(id) waits \(retryAfter) before identifying: \(why)")
                await wait(retryAfter)
                continue
            }
            if case .identifyLoop(let count, let period) = reason {
                // Its sessions kept dying (an op 9 storm, a gateway in trouble): the breaker spared
                // the session budget; after its period the shard tries again, rather than leaving
                // its guilds unserved for as long as the process runs.
                Self.stopCounter(reason: Self.label(reason)).increment()
                logger.error("shard \(id) identified \(count) times within \(period); it waits \(period) and starts again")
                await wait(period)
                continue
            }
            stopReasons[id] = reason
            Self.stopCounter(reason: Self.label(reason)).increment()
            if case .closed(let code, _) = reason, let known = GatewayCloseCode(rawValue: code), known.refusesEveryShard {
                // The token, version or intents are the bot's, not this shard's: the others would
                // each be refused in turn (minutes for a thousand shards), each identify taken off
                // the session budget, which a restart after the fix would then lack.
                let fix = switch known {
                case .authenticationFailed: "check KAMII_TOKEN"
                case .invalidAPIVersion: "check the gateway URL's version"
                case .disallowedIntents: "enable the privileged intents asked for in the Developer Portal, or ask for fewer"
                default: "check the intents setting: a value Discord does not know"
                }
                logger.critical("shard \(id) stopped: Discord refused it (\(code): \(known.reason)); every shard stops — \(fix)")
                await shutdown()
                return
            }
            if reason == .shutdown {
                // Its task was cancelled.
                logger.info("shard \(id) stopped: \(reason)")
            } else {
                logger.error("shard \(id) stopped: \(reason)")
            }
            return
        }
        stopReasons[id] = .shutdown
    }

    /// Sleeps for `duration`, or until the manager shuts down (which must not wait for it) or the
    /// task is cancelled: one timer, which ``shutdown()`` cancels — not a wake-up every 100 ms,
    /// which thousands of shards waiting out the session budget's reset made 50,000 a second.
    private func wait(_ duration: Duration) async {
        guard !shuttingDown else { return }
        sleeperCount += 1
        let key = sleeperCount
        let sleeper = Task<Void, Never> { _ = try? await Task.sleep(for: duration) }
        sleepers[key] = sleeper
        await withTaskCancellationHandler {
            await sleeper.value
        } onCancel: {
            sleeper.cancel()
        }
        sleepers[key] = nil
    }

    private func makeGate(_ plan: ShardPlan, limit: GatewayBot.SessionStartLimit, namespace: String, firstIdentifies: [Int]) async -> StartupIdentifyGate {
        let rest = rest
        let fetch: @Sendable () async throws -> GatewayBot.SessionStartLimit = { try await rest.gatewayBot().sessionStartLimit }
        let queue: any IdentifyGate
        let budget: any SessionBudget
        switch coordination {
        case .local:
            queue = LocalIdentifyQueue(maxConcurrency: limit.maxConcurrency, window: configuration.identifyWindow)
            budget = LocalSessionBudget(reserve: configuration.sessionReserve, initial: limit, fetch: fetch)
        case .redis(let redis):
            queue = RedisIdentifyQueue(
                redis: redis, namespace: namespace, maxConcurrency: limit.maxConcurrency, window: configuration.identifyWindow, logger: logger)
            let shared = RedisSessionBudget(redis: redis, namespace: namespace, reserve: configuration.sessionReserve, logger: logger, fetch: fetch)
            // The answer just read saves a second request; if Redis cannot take it, the first
            // identify asks again.
            try? await shared.seed(limit)
            budget = shared
        }
        return StartupIdentifyGate(queue: queue, budget: budget, maxConcurrency: limit.maxConcurrency, firstIdentifies: firstIdentifies, logger: logger)
    }

    /// The `reason` labels of `kamii_shard_stops_total` a process can meet without a gateway
    /// inventing close codes: made at zero before the first stop, so the first one can be alerted on.
    static let stopReasonLabels = ["identify_refused", "identify_loop"]
        + GatewayCloseCode.allCases.filter(\.isFatal).map { "close_\($0.rawValue)" }

    /// Makes the series this type counts in (`kamii_shard_stops_total` per ``stopReasonLabels``,
    /// and the session budget's refusals) at zero, once the process's metrics backend is set up:
    /// the first stop is then an increase an alert sees, not a series appearing at 1.
    public static func makeMetricsAtZero() {
        for reason in stopReasonLabels { _ = stopCounter(reason: reason) }
        _ = ShardLeaseKeeper.lostCounter
        SessionBudgetGuard.makeMetricsAtZero()
    }

    private static func stopCounter(reason: String) -> Counter {
        Counter(label: "kamii_shard_stops_total", dimensions: [("reason", reason)])
    }

    private static func label(_ reason: ShardStateMachine.StopReason) -> String {
        switch reason {
        case .closed(let code, _): "close_\(code)"
        case .identifyRefused: "identify_refused"
        case .identifyLoop: "identify_loop"
        case .shutdown: "shutdown"
        }
    }
}
