import DiscordModels
import DiscordREST
public import KamiiCore
public import KamiiStats
public import Logging
import Synchronization

/// Carries out level-ups as flushes report them: the guild's reward roles (stacked or replacing
/// each other, ``LevelRewards``) and its announcement.
///
/// Level-ups of one guild are handled in order on one of `lanes` workers (a guild always maps to
/// the same one), so a member's "replace" never removes a role a later level-up added; guilds on
/// different lanes proceed side by side, each held back only by its own REST rate limits. A lane
/// that falls `laneCapacity` level-ups behind drops the newest (counted and logged) rather than
/// growing without bound — the XP and levels themselves are in Redis either way.
///
/// A guild's rewards are read from its settings and kept for `settingsLifetime`, so a change made
/// in the panel applies within that time without a database read per level-up.
public final class LevelUpRewarder: Sendable {
    /// What was done since start.
    public struct Totals: Sendable, Equatable {
        public var levelUps = 0
        public var rolesAdded = 0
        public var rolesRemoved = 0
        public var announcements = 0
        /// Calls Discord refused or that failed after retries.
        public var failures = 0
        /// Level-ups dropped because their lane was full.
        public var dropped = 0

        public init(levelUps: Int = 0, rolesAdded: Int = 0, rolesRemoved: Int = 0, announcements: Int = 0, failures: Int = 0, dropped: Int = 0) {
            self.levelUps = levelUps
            self.rolesAdded = rolesAdded
            self.rolesRemoved = rolesRemoved
            self.announcements = announcements
            self.failures = failures
            self.dropped = dropped
        }
    }

    private let settings: any GuildSettingsSource
    private let actions: any LevelUpActions
    private let lanes: Int
    private let laneCapacity: Int
    private let settingsLifetime: Duration
    private let retryDelay: Duration
    private let logger: Logger
    private let cache = Mutex<[UInt64: (rewards: LevelRewards, until: ContinuousClock.Instant)]>([:])
    private let counts = Mutex(Totals())
    /// (guild, Discord error code) pairs already logged: a guild that took the bot's permission
    /// away logs once, not once per member.
    private let reported = Mutex<Set<[UInt64]>>([])

    public init(
        settings: any GuildSettingsSource, actions: any LevelUpActions, lanes: Int = 8, laneCapacity: Int = 10_000,
        settingsLifetime: Duration = .seconds(60), retryDelay: Duration = .seconds(1), logger: Logger = Logger(label: "kamii.levels")
    ) {
        precondition(lanes > 0 && laneCapacity > 0, "lanes and their capacity must be positive")
        self.settings = settings
        self.actions = actions
        self.lanes = lanes
        self.laneCapacity = laneCapacity
        self.settingsLifetime = settingsLifetime
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public var totals: Totals { counts.withLock { $0 } }

    /// Handles `levelUps` until the sequence ends, then finishes what its lanes hold.
    public func run<LevelUps: AsyncSequence & Sendable>(_ levelUps: LevelUps) async where LevelUps.Element == LevelUp {
        let streams = (0..<lanes).map { _ in AsyncStream<LevelUp>.makeStream(bufferingPolicy: .bufferingOldest(laneCapacity)) }
        await withTaskGroup(of: Void.self) { group in
            for (stream, _) in streams {
                group.addTask {
                    for await levelUp in stream { await self.handle(levelUp) }
                }
            }
            do {
                for try await levelUp in levelUps {
                    let lane = Int((levelUp.guild.rawValue >> 22) % UInt64(lanes))
                    if case .dropped = streams[lane].1.yield(levelUp) {
                        let dropped = counts.withLock { totals -> Int in
                            totals.dropped += 1
                            return totals.dropped
                        }
                        if dropped == 1 || dropped.isMultiple(of: 1_000) {
                            logger.warning("level-ups dropped: their lane is full (Discord slower than members level up?)", metadata: ["dropped": "\(dropped)"])
                        }
                    }
                }
            } catch {
                logger.error("level-up stream failed", metadata: ["error": "\(error)"])
            }
            for (_, continuation) in streams { continuation.finish() }
        }
    }

    /// Carries out one level-up (in its guild's order).
    public func handle(_ levelUp: LevelUp) async {
        counts.withLock { $0.levelUps += 1 }
        let rewards = await rewards(of: levelUp.guild)
        guard !rewards.isEmpty else { return }
        let changes = rewards.changes(from: levelUp.previousLevel, to: levelUp.level)
        let guild = levelUp.guild, user = levelUp.user
        for role in changes.add {
            if await attempt(levelUp, { () throws(RESTError) in try await actions.addRole(RoleID(role), to: user, in: guild) }) {
                counts.withLock { $0.rolesAdded += 1 }
            }
        }
        for role in changes.remove {
            if await attempt(levelUp, { () throws(RESTError) in try await actions.removeRole(RoleID(role), from: user, in: guild) }) {
                counts.withLock { $0.rolesRemoved += 1 }
            }
        }
        if let channel = rewards.announcementChannel {
            let level = levelUp.level
            if await attempt(levelUp, { () throws(RESTError) in try await actions.announce(level: level, of: user, in: ChannelID(channel)) }) {
                counts.withLock { $0.announcements += 1 }
            }
        }
    }

    private func rewards(of guild: GuildID) async -> LevelRewards {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[guild.rawValue] }), cached.until > now { return cached.rewards }
        let rewards = await settings.settings(for: guild).levelRewards
        cache.withLock { cache in
            // Bounded: the guilds that level members up in one lifetime are few next to all guilds.
            if cache.count >= 50_000 { cache = cache.filter { $0.value.until > now } }
            cache[guild.rawValue] = (rewards, now + settingsLifetime)
        }
        return rewards
    }

    /// Runs one call; a failure that may pass (5xx, connection, deadline) is retried twice after
    /// `retryDelay` and then twice that. Discord's refusals (missing permissions, unknown member or
    /// role) are not retried. Returns whether it succeeded.
    private func attempt(_ levelUp: LevelUp, _ call: () async throws(RESTError) -> Void) async -> Bool {
        var delay = retryDelay
        for attempt in 1...3 {
            do throws(RESTError) {
                try await call()
                return true
            } catch {
                let transient: Bool
                switch error.kind {
                case .serverError, .transport, .deadlineExceeded: transient = true
                default: transient = false
                }
                if transient, attempt < 3 {
                    try? await Task.sleep(for: delay)
                    delay *= 2
                    continue
                }
                counts.withLock { $0.failures += 1 }
                let first = reported.withLock { $0.insert([levelUp.guild.rawValue, UInt64(bitPattern: Int64(error.code ?? -1))]).inserted }
                if first {
                    logger.warning("a level-up's reward or announcement failed", metadata: [
                        "guild": "\(levelUp.guild)", "user": "\(levelUp.user)", "level": "\(levelUp.level)", "error": "\(error)",
                    ])
                }
                return false
            }
        }
        return false
    }
}
