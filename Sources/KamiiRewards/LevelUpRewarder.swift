public import DiscordModels
import DiscordREST
public import KamiiCore
public import KamiiStats
public import Logging
import Synchronization

/// Carries out level-ups as flushes report them: the guild's reward roles (stacked or replacing
/// each other, ``LevelRewards``) and its announcement. A member who comes back to a guild (Discord
/// dropped their roles when they left) is given the rewards of the level they have.
///
/// A guild always maps to the same one of `lanes` workers, so its level-ups are handled in order
/// (a "replace" never removes a role a later level-up added); guilds on different lanes proceed
/// side by side. A lane takes everything queued at once: a member's level-ups in it become one
/// (3 → 4 → 5 is one change and one announcement of level 5), and a guild's announcements go
/// together, up to ``membersPerAnnouncement`` in one message — so when Discord (one channel takes
/// about one message a second) is slower than members level up, the backlog shrinks instead of
/// growing. A lane that still falls `laneCapacity` behind drops the newest (counted and logged);
/// the XP and levels themselves are in Redis either way. A level-up that could not be carried out
/// (Discord or the settings' database away), or was dropped, or never reported (``lookAgain(at:)``)
/// stays waiting in Redis and is tried again every `retryInterval` while the rewarder runs
/// (``retryWaiting(into:)``), and at the next start.
///
/// A guild's rewards are read from its settings and kept for `settingsLifetime`, so a change made
/// in the panel applies within that time without a database read per level-up.
public final class LevelUpRewarder: Sendable {
    /// Members named in one announcement at most (Discord allows 2,000 characters and 100
    /// mentions per message).
    public static let membersPerAnnouncement = 40

    let settings: any GuildSettingsSource
    let actions: any LevelUpActions
    let levels: (any MemberLevels)?
    let backlog: (any WaitingLevelUps)?
    private let lanes: Int
    private let laneCapacity: Int
    let settingsLifetime: Duration
    private let retryDelay: Duration
    let logger: Logger
    let retryInterval: Duration
    /// Guilds where a level-up could not be carried out since the last retry.
    let failedGuilds = Mutex<Set<UInt64>>([])
    /// What an earlier run left could not be read at start: read again at each retry until it is.
    let leftOverUnread = Mutex(false)
    /// Returning members whose roles could not be given back yet (Discord or a database away):
    /// tried again at each retry. With a backlog Redis keeps them too (a restart reads them there,
    /// and their guild is retried); this copy covers a Redis that restarts empty meanwhile.
    let failedJoins = Mutex<Set<MemberJoin>>([])
    /// Returning members held for a retry at most: past it, one is given up (and counted).
    static let failedJoinsLimit = 100_000
    /// Returning members of guilds whose configuration is refused, held until it changes.
    let joinsAwaitingSettings = Mutex(JoinsAwaitingSettings())
    /// Whether this process carries out the guild's work (its shards' guilds, in a cluster): a
    /// settings change makes only those look at Redis again.
    let owns: @Sendable (GuildID) -> Bool
    /// Roles and channels Discord refused for a while (``RefusedTargets``).
    let refusedTargets: RefusedTargets
    /// What retries read from Redis lately, per member (``RetriedLevels``).
    let retried = Mutex(RetriedLevels())
    /// Level-ups announced that wait for their roles (``AnnouncedLevels``).
    let announced = Mutex(AnnouncedLevels())
    let cache = Mutex(RewardsCache())
    let counts = Mutex(Totals())
    /// (guild, Discord error code) pairs already logged: a guild that took the bot's permission
    /// away logs once, not once per member.
    private let reported = Mutex<Set<[UInt64]>>([])
    static let reportedLimit = 10_000

    public init(
        settings: any GuildSettingsSource, actions: any LevelUpActions, levels: (any MemberLevels)? = nil,
        backlog: (any WaitingLevelUps)? = nil, lanes: Int = 8,
        laneCapacity: Int = 10_000, settingsLifetime: Duration = .seconds(60), retryDelay: Duration = .seconds(1),
        retryInterval: Duration = .seconds(60), refusalMemory: Duration = .seconds(600),
        owns: @escaping @Sendable (GuildID) -> Bool = { _ in true }, logger: Logger = Logger(label: "kamii.levels")
    ) {
        self.owns = owns
        refusedTargets = RefusedTargets(lifetime: refusalMemory)
        precondition(lanes > 0 && laneCapacity > 0, "lanes and their capacity must be positive")
        self.settings = settings
        self.actions = actions
        self.levels = levels
        self.backlog = backlog
        self.lanes = lanes
        self.laneCapacity = laneCapacity
        self.settingsLifetime = settingsLifetime
        self.retryDelay = retryDelay
        self.retryInterval = retryInterval
        self.logger = logger
    }

    public var totals: Totals { counts.withLock { $0 } }

    /// Handles `waiting` and `waitingJoins` (what earlier runs left, ``waitingLevelUps()`` and
    /// ``waitingJoins()``) first, then `levelUps` and `joins` until both sequences end, then
    /// finishes what its lanes hold.
    public func run<LevelUps: AsyncSequence & Sendable, Joins: AsyncSequence & Sendable>(
        _ levelUps: LevelUps, joins: Joins, waiting: [LevelUp] = [], waitingJoins: [MemberJoin] = []
    ) async where LevelUps.Element == LevelUp, Joins.Element == MemberJoin {
        let queues = (0..<lanes).map { _ in RewardLane(capacity: laneCapacity) }
        // Counted here, once a cluster's process has kept only its own guilds' (the reads take all).
        if !waiting.isEmpty { logger.info("carrying out level-ups an earlier run left", metadata: ["level_ups": "\(waiting.count)"]) }
        if !waitingJoins.isEmpty {
            logger.info("giving back the roles of returning members an earlier run left", metadata: ["joins": "\(waitingJoins.count)"])
        }
        await withTaskGroup(of: Void.self) { group in
            for queue in queues {
                group.addTask {
                    while let batch = await queue.next() { await self.handle(batch) }
                }
            }
            // Before anything new, so a member's level-ups stay in order.
            await feed(AsyncStream { continuation in
                for levelUp in waiting { continuation.yield(RewardWork.levelUp(levelUp)) }
                for join in waitingJoins { continuation.yield(RewardWork.join(join)) }
                continuation.finish()
            }, into: queues)
            // Each task says whether it fed a stream: the retries go on until both streams end.
            await withTaskGroup(of: Bool.self) { readers in
                readers.addTask { await self.feed(levelUps.map { RewardWork.levelUp($0) }, into: queues); return true }
                readers.addTask { await self.feed(joins.map { RewardWork.join($0) }, into: queues); return true }
                readers.addTask { await self.retryWaiting(into: queues); return false }
                var streamsEnded = 0
                while streamsEnded < 2, let fedAStream = await readers.next() { if fedAStream { streamsEnded += 1 } }
                readers.cancelAll()
            }
            for queue in queues { queue.finish() }
        }
    }

    /// What earlier runs left waiting in Redis (a crash, or a restart with a backlog). Read it
    /// before the flusher starts: a level-up this run flushes would otherwise be read here and come
    /// through the flusher's stream as well.
    public func waitingLevelUps() async -> [LevelUp] {
        await leftOver("level-ups") { try await $0.waiting() }
    }

    /// The returning members' joins earlier runs left waiting in Redis; read it, as
    /// ``waitingLevelUps()``, before the flusher starts.
    public func waitingJoins() async -> [MemberJoin] {
        await leftOver("returning members") { try await $0.waitingJoins() }
    }

    /// What `read` finds in the backlog; none when it fails, and then read again at each retry
    /// (``retryWaiting(into:)``) until it can be.
    private func leftOver<Item>(_ what: String, _ read: (any WaitingLevelUps) async throws -> [Item]) async -> [Item] {
        guard let backlog else { return [] }
        do {
            return try await read(backlog)
        } catch {
            leftOverUnread.withLock { $0 = true }
            logger.error("the \(what) an earlier run left could not be read; read again at the next retry", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Handles `levelUps` until the sequence ends (no joins).
    public func run<LevelUps: AsyncSequence & Sendable>(_ levelUps: LevelUps) async where LevelUps.Element == LevelUp {
        await run(levelUps, joins: AsyncStream<MemberJoin> { $0.finish() })
    }

    private func feed<Source: AsyncSequence>(_ source: Source, into queues: [RewardLane]) async where Source.Element == RewardWork {
        do {
            for try await work in source {
                guard !work.lane(in: queues).push(work) else { continue }
                // It waits in Redis: the next retry carries it out.
                lookAgain(at: [work.guild])
                let dropped = counts.withLock { totals -> Int in
                    totals.dropped += 1
                    return totals.dropped
                }
                if dropped == 1 || dropped.isMultiple(of: 1_000) {
                    logger.warning("level-ups or joins dropped: their lane is full (Discord slower than members level up?)", metadata: ["dropped": "\(dropped)"])
                }
            }
        } catch {
            logger.error("level-up stream failed", metadata: ["error": "\(error)"])
        }
    }

    /// Handles what a lane had queued: joins first (a returning member's level is read from Redis,
    /// which has their newest level anyway), then each member's level-ups merged into one, then
    /// each guild's announcements together.
    func handle(_ batch: [RewardWork]) async {
        // Guilds whose rewards could not be known: asked once per batch, not once per member.
        var unknown: [UInt64: RewardsUnknown] = [:]
        var merged: [LevelUp] = []
        var index: [[UInt64]: Int] = [:]
        func merge(_ levelUp: LevelUp) {
            counts.withLock { $0.levelUps += 1 }
            let key = [levelUp.guild.rawValue, levelUp.user.rawValue]
            if let at = index[key] {
                merged[at].previousLevel = min(merged[at].previousLevel, levelUp.previousLevel)
                merged[at].level = max(merged[at].level, levelUp.level)
            } else {
                index[key] = merged.count
                merged.append(levelUp)
            }
        }
        var joinsOver: [MemberJoin] = []
        // A join waiting both in Redis and in this process's retries (the same mark) comes twice
        // to a retry: handled once when both land in one batch (most often; else its roles are
        // asked for twice, which Discord holds once).
        var joinsSeen: Set<MemberJoin> = []
        for work in batch {
            switch work {
            case .join(let join):
                guard joinsSeen.insert(join).inserted else { continue }
                if await handle(join, unknown: &unknown) { joinsOver.append(join) }
            case .levelUp(let levelUp):
                if notYetRetried(levelUp) { merge(levelUp) }
            case .retry(let guild):
                for join in await joinsToRetry(in: guild) {
                    guard joinsSeen.insert(join).inserted else { continue }
                    if await handle(join, unknown: &unknown) { joinsOver.append(join) }
                }
                for levelUp in await waitingToRetry(in: guild) { merge(levelUp) }
            }
        }
        await markDone(joinsOver)
        // Which level-ups are over (every call done or refused): only those leave Redis's list.
        var over = [Bool](repeating: true, count: merged.count)
        var announcements: [(channel: UInt64, index: Int)] = []
        // The level each announcement names: the reported one, or the record's when its read found
        // it lower (``owedPart(of:)``).
        var announcedLevel = merged.map(\.level)
        for (index, levelUp) in merged.enumerated() {
            // Unreadable settings (SQL away) are not taken for "no rewards": the level-up waits.
            guard case .success(let rewards) = await rewards(of: levelUp.guild, unknown: &unknown) else {
                over[index] = false
                continue
            }
            let roles = await applyRoles(levelUp, rewards)
            over[index] = roles.over
            // A member whose record is gone (deleted on request since) or not above the level before
            // is not announced either.
            guard let level = roles.announcing else { continue }
            announcedLevel[index] = level
            if let channel = rewards.announcementChannel, !announced.withLock({ $0.covers(levelUp) }) {
                announcements.append((channel, index))
            }
        }
        var byChannel: [UInt64: [Int]] = [:]
        var channels: [UInt64] = []
        for (channel, index) in announcements {
            if byChannel[channel] == nil { channels.append(channel) }
            byChannel[channel, default: []].append(index)
        }
        for channel in channels {
            // In user order before the split into messages: a retry that reads the same level-ups
            // back from Redis (in the hash's order) writes the same messages, and their nonces hold.
            let indexes = (byChannel[channel] ?? []).sorted { merged[$0].user.rawValue < merged[$1].user.rawValue }
            for start in stride(from: 0, to: indexes.count, by: Self.membersPerAnnouncement) {
                let part = indexes[start..<min(start + Self.membersPerAnnouncement, indexes.count)]
                let members = part.map { (user: merged[$0].user, level: announcedLevel[$0]) }
                let outcome = await attempt(merged[part.first!], on: channel, { () throws(RESTError) in try await actions.announce(members, in: ChannelID(channel)) })
                if outcome == .done {
                    counts.withLock {
                        $0.announcements += 1
                        $0.membersAnnounced += part.count
                    }
                    // Those whose roles wait for a retry are not announced again by it.
                    announced.withLock { announced in
                        for index in part where !over[index] { announced.note(merged[index]) }
                    }
                }
                if !outcome.isOver { for index in part { over[index] = false } }
            }
        }
        if backlog != nil, over.contains(false) {
            let waiting = zip(merged, over).filter { !$0.1 }.map(\.0.guild.rawValue)
            failedGuilds.withLock { $0.formUnion(waiting) }
        }
        let finished = zip(merged, over).filter(\.1).map(\.0)
        guard !finished.isEmpty else { return }
        // Marked even when the rewarder is being stopped: a call cut short by it counts as failed
        // (the level-up waits), so `finished` holds only what was carried out — left unmarked, it
        // would be carried out (and announced) again at the next start.
        do {
            try await backlog?.done(finished)
            announced.withLock { announced in for levelUp in finished { announced.forget(levelUp) } }
        } catch {
            // Still waiting in Redis: the guild's next retry marks them (its roles are held by then,
            // and what was announced is not announced again).
            announced.withLock { announced in for levelUp in finished { announced.note(levelUp) } }
            failedGuilds.withLock { $0.formUnion(finished.map(\.guild.rawValue)) }
            logger.warning("level-ups carried out but not marked done; tried again at the next retry", metadata: ["error": "\(error)"])
        }
    }

    /// Carries out one level-up on its own (tests, or a caller without lanes).
    public func handle(_ levelUp: LevelUp) async {
        await handle([.levelUp(levelUp)])
    }

    /// Whether Discord's `code` refuses the role or channel itself, whoever the member — not 50001
    /// (Missing Access): the bot cannot reach the guild or channel at all, and no other role of it
    /// would be given either.
    static func refusesTheTarget(_ code: Int) -> Bool {
        RefusedTargets.lastingCodes.contains(code) && code != 50001
    }

    /// How a call ended.
    enum Outcome: Equatable {
        case done
        /// Discord refused it (missing permissions, unknown member or role; not a 429): sending it
        /// again would not help, so the level-up is over as far as this call goes. `ofTarget`: the
        /// role or channel itself is refused, for a while, whoever the member (``RefusedTargets``).
        case refused(ofTarget: Bool)
        /// It may pass later (Discord unreachable or failing, the task cancelled at shutdown, the
        /// invalid-request budget spent): the level-up stays waiting in Redis.
        case failed

        var isOver: Bool { self != .failed }
    }

    /// Runs one call; a failure that may pass (5xx, connection, deadline) is retried twice after
    /// `retryDelay` and then twice that. Discord's refusals are not retried.
    func attempt(_ levelUp: LevelUp, on target: UInt64, _ call: () async throws(RESTError) -> Void) async -> Outcome {
        if let code = refusedTargets.refusal(of: target, in: levelUp.guild.rawValue) {
            counts.withLock { $0.notSent += 1 }
            return .refused(ofTarget: Self.refusesTheTarget(code))
        }
        guard actions.mayRiskRefusals else { return heldForBudget(levelUp) }
        var delay = retryDelay
        for attempt in 1...3 {
            do throws(RESTError) {
                try await call()
                refusedTargets.accepted(target, in: levelUp.guild.rawValue)
                return .done
            } catch {
                let transient: Bool
                switch error.kind {
                case .serverError, .transport, .deadlineExceeded: transient = true
                default: transient = false
                }
                if transient, attempt < 3, !Task.isCancelled {
                    try? await Task.sleep(for: delay)
                    delay *= 2
                    continue
                }
                counts.withLock { $0.failures += 1 }
                let first = reported.withLock { reported in
                    // Bounded, and forgotten now and then: a guild's later failures of one kind are
                    // logged again, not hidden for the process's life behind its first.
                    if reported.count >= Self.reportedLimit { reported.removeAll() }
                    return reported.insert([levelUp.guild.rawValue, UInt64(bitPattern: Int64(error.code ?? -1))]).inserted
                }
                if first {
                    logger.warning("a level-up's reward or announcement failed", metadata: [
                        "guild": "\(levelUp.guild)", "user": "\(levelUp.user)", "level": "\(levelUp.level)", "error": "\(error)",
                    ])
                }
                // Still rate limited after the client's own resends (no retry_after, a shared
                // limit held for long), the token refused (401: the bot's, not this call's fault),
                // or an answer that is not Discord's JSON (code 0: a proxy's page): not a refusal of
                // this call, so the level-up waits for the next retry or start.
                if case .discord(let status, let code, _) = error.kind, status != 429, status != 401, code != 0 {
                    refusedTargets.note(code, on: target, in: levelUp.guild.rawValue)
                    return .refused(ofTarget: Self.refusesTheTarget(code))
                }
                return .failed
            }
        }
        return .failed
    }
}
