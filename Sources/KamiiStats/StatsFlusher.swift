public import DiscordModels
public import KamiiCore
public import KamiiRedis
public import Logging

/// A key written with a flush once its changes are in (a shard's saved session): key, value, time
/// to live in ms.
public typealias DurableWrite = (key: String, value: String, ttlMilliseconds: Int)

/// Moves guild actors' changes from the ``StatsBuffer`` to Redis: every interval, or sooner when
/// the buffer passes its threshold; one pipelined round trip per flush with at most one script call
/// per guild (one per guild on Redis Cluster; otherwise one per up to ``Configuration/guildsPerCall``
/// guilds whose batches began recording together, which is most of a flush's).
///
/// A flush is applied exactly once. Each carries an id; a guild's script records the id it
/// applied and ignores a batch with the same id. A flush that fails — Redis down, the connection
/// lost with the outcome unknown, a restarted Redis that forgot the script — is kept as it was and
/// sent again, id and all, before anything newer; changes recorded meanwhile wait in the buffer,
/// whose bound then holds the guild actors back.
///
/// The guilds' thread maps (``ThreadMapChange``, taken with the same positions) go with the flush's
/// last round trip, the one that commits the sessions (``ThreadMapWrites``); until they are in, no
/// position is claimed.
public actor StatsFlusher {
    /// What flushes did so far.
    public struct Totals: Sendable, Equatable {
        public var flushes = 0
        public var failedAttempts = 0
        public var guildBatches = 0
        public var deltas = 0
        public var grantsApplied = 0
        public var levelUps = 0
        /// Returning members' joins kept for their rewards (a level above 0).
        public var joins = 0
        /// Guilds loaded from SQL because Redis did not have them.
        public var hydrations = 0
        /// Guild batches Redis refused because a key of the guild is not what Kamii writes
        /// (WRONGTYPE), and the changes they carried: dropped, logged.
        public var brokenGuildBatches = 0
        public var droppedChanges = 0
    }

    public nonisolated let configuration: Configuration
    private let buffer: StatsBuffer
    let redis: RedisClient
    let logger: Logger
    let hydrator: (any GuildHydrator)?
    private let onDurable: (@Sendable ([Int: ShardPosition]) async -> Void)?
    private let durableWrites: (@Sendable ([Int: ShardPosition]) async -> [DurableWrite])?
    private let onUnreportedLevelUps: (@Sendable ([GuildID]) -> Void)?
    private var reportedPositions: [Int: ShardPosition] = [:]
    private let batchPrefix: String
    private var batchCounter = 0
    private var pending: PendingFlush?
    private var failing = false
    private var flushing = false
    /// Drains waiting for the running flush to end.
    private var flushEndWaiters: [CheckedContinuation<Void, Never>] = []
    /// Tests only: how often a drain waited for a running flush's end.
    private(set) var drainWaitsForRunningFlush = 0
    /// Guilds Redis refused until rehydrated, while rehydrating failed (the SQL store unreachable).
    /// Nothing of their batches was applied (a refusal means no marker, so none of it ran): their
    /// changes wait here, merged with later ones, and go with the next flush, while every other
    /// guild keeps flushing. While any wait, the shards' positions are not claimed.
    private var deferred: [UInt64: GuildStatsBatch] = [:]
    /// Guilds already logged as broken (one error line each, not one per flush).
    var brokenGuilds: Set<UInt64> = []
    /// Change journal entries Redis refused while their changes went in: their members are marked
    /// in the dirty sets instead (``writeUnjournaled()``) before anything else is flushed, and until
    /// then no shard position is claimed (the checkpointer would not know those members changed).
    var unjournaled: [(field: String, entry: [UInt8])] = []
    var journalRefused = false
    /// Whether the last journal entry went to the dirty sets instead (logged once until one is taken).
    var journalBypassed = false
    /// Guilds Redis was seen to have (or that were loaded into it) since this process started:
    /// ``loadUnseen(_:)`` checks the others before their first flush.
    var seenLoaded: Set<UInt64> = []
    /// After a load from SQL failed, no load is tried before this (``hydrate(_:)``), and how long
    /// the next quiet period lasts if it fails again.
    var hydrationQuietUntil: ContinuousClock.Instant?
    var hydrationBackoff: Duration = .zero
    /// The guild whose load failed last: tried last next time, so one guild that can never load
    /// does not keep the others from loading.
    var hydrationFailedLast: GuildID?

    public internal(set) var totals = Totals()
    /// When the last flush that left nothing behind ended, and how long it took (nil before the
    /// first): what ``lag(now:)`` is measured from.
    public private(set) var lastCompleteFlush: (endedAt: ContinuousClock.Instant, duration: Duration)?
    private let startedAt = ContinuousClock.now
    /// Changes flushed per guild since start (the most active first when asked); bounded.
    private var activity: [UInt64: Int] = [:]
    private let levelUpSink: AsyncStream<LevelUp>.Continuation
    /// Level-ups as flushes apply them (the newest 10,000 are kept if nobody reads).
    public nonisolated let levelUps: AsyncStream<LevelUp>
    private let joinSink: AsyncStream<MemberJoin>.Continuation
    /// Returning members' joins as flushes keep them in Redis (``StatsKeys/waitingJoins(in:)``;
    /// the newest 10,000 are kept if nobody reads).
    public nonisolated let joins: AsyncStream<MemberJoin>

    /// - Parameters:
    ///   - hydrator: where a guild Redis does not have is loaded from before anything is added to
    ///     it (the checkpoint in SQL); nil: a guild Redis does not have starts from zero.
    ///   - onDurable: told the shards' positions a take claims (``StatsBuffer/takeClaiming()``)
    ///     once its flush is applied (the shards' saves then stay within them).
    ///   - durableWrites: commands recording those positions (the shards' sessions), sent in the
    ///     flush's own pipeline right after its changes: a process killed once the changes are in
    ///     resumes from exactly there.
    ///   - onUnreportedLevelUps: told the guilds where level-ups or joins may have been applied
    ///     without coming through ``levelUps`` or ``joins``: a flush whose reply was lost (sent
    ///     again, Redis says it had it already), or a stream full. Each waits in Redis
    ///     (``LevelUpBacklog``) for whoever carries them out to look.
    public init(
        buffer: StatsBuffer, redis: RedisClient, configuration: Configuration = Configuration(), hydrator: (any GuildHydrator)? = nil,
        onDurable: (@Sendable ([Int: ShardPosition]) async -> Void)? = nil,
        durableWrites: (@Sendable ([Int: ShardPosition]) async -> [DurableWrite])? = nil,
        onUnreportedLevelUps: (@Sendable ([GuildID]) -> Void)? = nil,
        logger: Logger = Logger(label: "kamii.stats")
    ) {
        self.durableWrites = durableWrites
        self.onUnreportedLevelUps = onUnreportedLevelUps
        self.buffer = buffer
        self.hydrator = hydrator
        self.onDurable = onDurable
        self.redis = redis
        self.configuration = configuration
        self.logger = logger
        batchPrefix = String(UInt64.random(in: 1...UInt64.max), radix: 36) + "-"
        (levelUps, levelUpSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        (joins, joinSink) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    /// Flushes every interval (or when the buffer wakes it) until the buffer is finished
    /// (``StatsBuffer/finish()``), then flushes what is left, retrying until Redis has it or
    /// `finalDeadline` passes, and ends ``levelUps`` and ``joins``. Cancelling stops it at once, after one last
    /// attempt.
    public func run(finalDeadline: Duration = .seconds(30)) async {
        let interval = configuration.interval
        let buffer = buffer
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    buffer.requestFlush()
                }
            }
            for await _ in buffer.wakeups {
                if Task.isCancelled { break }
                _ = await flush()
            }
            group.cancelAll()
        }
        await drain(deadline: finalDeadline)
        levelUpSink.finish()
        joinSink.finish()
    }

    /// Flushes until nothing is unacknowledged or `deadline` passes; returns whether all is in Redis.
    @discardableResult
    public func drain(deadline: Duration) async -> Bool {
        let end = ContinuousClock.now + deadline
        while buffer.unacknowledged > 0 || buffer.holdsThreadChanges || pending != nil || !unjournaled.isEmpty {
            if flushing {
                // The run loop's last flush is still going: wait for its end (not a verdict, and not
                // a sleep, which a cancelled task does not take: it would spin until the flush ends).
                drainWaitsForRunningFlush += 1
                await withCheckedContinuation { flushEndWaiters.append($0) }
                continue
            }
            if await flush() { continue }
            guard ContinuousClock.now < end, !Task.isCancelled else {
                logger.critical("stats not flushed at shutdown", metadata: [
                    "changes": "\(buffer.unacknowledged)", "members not marked for the checkpointer": "\(unjournaled.count) entries",
                ])
                return false
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return true
    }

    /// How long changes have been waiting for Redis: the time since the last flush that left
    /// nothing behind (or since the flusher started), while any change is unacknowledged; zero when
    /// none is. A few flush intervals at most in health, it climbs while Redis (or SQL, for guilds
    /// to load) is away — the figure to alert on.
    public func lag(now: ContinuousClock.Instant = .now) -> Duration {
        guard buffer.unacknowledged > 0 || pending != nil || !deferred.isEmpty else { return .zero }
        return now - (lastCompleteFlush?.endedAt ?? startedAt)
    }

    /// One flush: the failed one if there is one, else everything buffered. Returns false when it
    /// failed (and is kept for the next attempt), or left guilds or positions behind.
    public func flush() async -> Bool {
        // Overlapping flushes would send (and acknowledge) one pending flush twice.
        guard !flushing else { return false }
        flushing = true
        defer {
            flushing = false
            for waiter in flushEndWaiters { waiter.resume() }
            flushEndWaiters.removeAll()
        }
        let began = ContinuousClock.now
        guard await flushOnce() else { return false }
        let ended = ContinuousClock.now
        lastCompleteFlush = (ended, ended - began)
        return true
    }

    private func flushOnce() async -> Bool {
        guard await writeUnjournaled() else { return false }
        if pending == nil {
            var (batches, positions, threads) = buffer.takeClaiming()
            for (guild, waiting) in deferred {
                var merged = waiting
                if let newer = batches[guild] { merged.merge(newer) }
                batches[guild] = merged
            }
            deferred = [:]
            guard !batches.isEmpty || !threads.isEmpty else {
                await reportDurable(positions)
                return true
            }
            batchCounter += 1
            pending = PendingFlush(
                id: batchPrefix + String(batchCounter), batches: batches, keys: configuration.keys, guildsPerCall: configuration.guildsPerCall,
                positions: positions, threads: threads, karmaMemory: configuration.karmaMemory, deletionClockAllowance: configuration.deletionClockAllowance)
        }
        guard var flush = pending else { return true }
        do {
            for guild in try await loadUnseen(flush.batches.keys) {
                if let waiting = flush.setAside(guild) { deferred[guild] = waiting }
            }
            // A Redis that restarted or ran SCRIPT FLUSH answers NOSCRIPT: load it and send again at
            // once. Guilds it does not have are rehydrated from SQL, then sent again.
            // A backlog goes in several round trips (`maxArguments` each); one that applies nothing
            // three times running fails the flush.
            var reload = false
            var fruitless = 0
            var recordsWritten = false
            while !flush.batches.isEmpty || !flush.threadsWritten {
                let sha = try await redis.load(StatsFlushScript.script, force: reload)
                let before = (flush.batches.count, flush.threadsWritten)
                // The sessions as they are now: a retried flush must not write one the shard replaced.
                let records = deferred.isEmpty && unjournaled.isEmpty ? await sessionRecords(flush.positions) : []
                let outcome = flush.settle(try await redis.execute(flush.pipeline(
                    scriptHash: sha, mustBeLoaded: hydrator != nil, maxArguments: configuration.maxArgumentsPerRoundTrip, records: records,
                    journal: configuration.writesChangeJournal)))
                record(outcome)
                if let refused = outcome.unjournaled {
                    unjournaled.append(refused)
                    _ = await writeUnjournaled()
                } else if outcome.applied > 0 {
                    journalBypassed = false
                }
                recordsWritten = outcome.recordsWritten
                reload = outcome.scriptMissing
                for guild in await hydrate(outcome.unloaded.map(GuildID.init)) {
                    if let waiting = flush.setAside(guild.rawValue) { deferred[guild.rawValue] = waiting }
                    // Looked up again before its next flush, and set aside there while it cannot be
                    // loaded: a flush that would only be refused again does not claim to commit the
                    // sessions, so its guilds keep their positions (a kill replays none twice).
                    seenLoaded.remove(guild.rawValue)
                }
                if let error = outcome.error, !reload { throw RedisError.server(error) }
                fruitless = flush.batches.count < before.0 || flush.threadsWritten != before.1 ? 0 : fruitless + 1
                if fruitless >= 3 { throw RedisError.server("\(flush.batches.count) guilds still unapplied") }
            }
            pending = nil
            guard unjournaled.isEmpty else {
                // Applied, but members of it are not yet marked for the checkpointer: a process that
                // died now must replay this flush (which marks them again), so positions stay unclaimed.
                totals.flushes += 1
                return false
            }
            // Not in the same transaction (a guild refused at first, a backlog in parts, Cluster): now
            // the positions the changes vouch for — a kill between the two replays one flush, whose
            // XP Redis refuses a second time.
            guard deferred.isEmpty else {
                // Applied except the guilds waiting for rehydration: positions stay unclaimed.
                totals.flushes += 1
                if !failing {
                    failing = true
                    // SQL unreachable, or another process loading them: the load's own line says which.
                    logger.warning("guilds wait to be loaded from SQL; the rest is flushed", metadata: ["guilds": "\(deferred.count)"])
                }
                return false
            }
            let late = recordsWritten ? [] : await sessionRecords(flush.positions)
            if !late.isEmpty {
                // The commit script with no markers to check: the records, each written only over an
                // earlier point of the same session.
                var pipeline = RedisPipeline()
                pipeline.append(["EVAL", StatsFlushScript.commit.source, "0", "late", "", "", ""] + late.flatMap { [$0.key, $0.value, String($0.ttlMilliseconds)] })
                do {
                    for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
                } catch {
                    logger.warning("shard sessions not saved after a flush", metadata: ["error": "\(error)"])
                }
            }
            await reportDurable(flush.positions)
            totals.flushes += 1
            if failing {
                failing = false
                logger.notice("stats flushing again")
            }
            return true
        } catch {
            pending = flush.batches.isEmpty && flush.threadsWritten ? nil : flush
            totals.failedAttempts += 1
            if !failing {
                failing = true
                logger.error("stats flush failed; kept and retried", metadata: ["error": "\(error)", "changes": "\(buffer.unacknowledged)"])
            }
            return false
        }
    }

    private func sessionRecords(_ positions: [Int: ShardPosition]) async -> [DurableWrite] {
        guard let durableWrites, !positions.isEmpty else { return [] }
        return await durableWrites(positions)
    }

    private func reportDurable(_ positions: [Int: ShardPosition]) async {
        guard let onDurable, !positions.isEmpty, positions != reportedPositions else { return }
        reportedPositions = positions
        await onDurable(positions)
    }

    /// The guild with the most changes flushed so far (what a live view shows the leaderboard of).
    public var busiestGuild: GuildID? {
        activity.max { $0.value < $1.value }.map { GuildID($0.key) }
    }

    private func record(_ outcome: PendingFlush.Outcome) {
        for broken in outcome.broken {
            totals.brokenGuildBatches += 1
            totals.droppedChanges += broken.changes
            if brokenGuilds.insert(broken.guild).inserted {
                logger.error("a guild's stats keys are not what Kamii writes; its changes are dropped until they are fixed or purged (kamii data delete --guild)", metadata: [
                    "guild": "\(broken.guild)", "error": "\(broken.error)", "changes": "\(broken.changes)",
                ])
            }
        }
        if !outcome.threadErrors.isEmpty {
            logger.error("guilds' thread map keys are not what Kamii writes; left as they are", metadata: [
                "errors": "\(outcome.threadErrors.count)", "first": "\(outcome.threadErrors[0])",
            ])
        }
        for (guild, changes) in outcome.guilds { activity[guild, default: 0] += changes }
        if activity.count > 100_000 {
            let kept = activity.sorted { $0.value > $1.value }.prefix(10_000)
            activity = Dictionary(uniqueKeysWithValues: kept.map { ($0.key, $0.value) })
        }
        totals.guildBatches += outcome.applied
        totals.grantsApplied += outcome.grants
        totals.deltas += outcome.deltas
        totals.levelUps += outcome.levelUps.count
        var unreported = Set(outcome.appliedEarlier)
        for levelUp in outcome.levelUps {
            // Nobody read for 10,000 level-ups: the oldest goes.
            if case .dropped(let lost) = levelUpSink.yield(levelUp) { unreported.insert(lost.guild.rawValue) }
        }
        totals.joins += outcome.joins.count
        for join in outcome.joins {
            if case .dropped(let lost) = joinSink.yield(join) { unreported.insert(lost.guild.rawValue) }
        }
        if !unreported.isEmpty { onUnreportedLevelUps?(unreported.sorted().map(GuildID.init)) }
        buffer.acknowledge(outcome.deltas)
    }
}
