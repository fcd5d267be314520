public import DiscordModels
import KamiiCore
import KamiiStats

extension LevelUpRewarder {
    /// Every `retryInterval` until cancelled: each guild where a level-up could not be carried out
    /// since the last look gets a ``RewardWork/retry(_:)`` on its lane. The lane reads the guild's
    /// waiting level-ups from Redis when it gets there (``waitingToRetry(in:)``), behind whatever
    /// the guild had queued: Redis merges a member's waiting level-ups (from the lowest level to
    /// the highest), so the member ends with the roles of their level, and the flush's own report
    /// of a level-up the retry read is not carried out again (``notYetRetried(_:)``). A report
    /// carried out before the retry reads the entry it was merged into is: at worst a level is
    /// announced twice.
    /// The retry reads the guild's waiting joins as well, and returning members whose roles could
    /// not be given back (``failedJoins``) go on their lanes again at each look.
    /// When what an earlier run left could not be read at start, each look reads it again (every
    /// guild's, as at start) until it can, and retries the guilds this process carries out.
    func retryWaiting(into queues: [RewardLane]) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: retryInterval) } catch { return }
            if leftOverUnread.withLock({ $0 }) { await readLeftOverAgain() }
            let guilds = failedGuilds.withLock { failed -> Set<UInt64> in
                defer { failed.removeAll() }
                return failed
            }
            // A guild whose shard another process took is its to carry out now; what waits of it
            // stays in Redis, where that process reads it.
            for guild in guilds.sorted() where owns(GuildID(guild)) {
                let work = RewardWork.retry(GuildID(guild))
                // A full lane: asked again at the next look.
                if !work.lane(in: queues).push(work) { failedGuilds.withLock { _ = $0.insert(guild) } }
            }
            let joins = failedJoins.withLock { failed -> Set<MemberJoin> in
                defer { failed.removeAll() }
                return failed
            }
            for join in joins.sorted(by: { ($0.guild.rawValue, $0.user.rawValue) < ($1.guild.rawValue, $1.user.rawValue) }) where owns(join.guild) {
                let work = RewardWork.join(join)
                if !work.lane(in: queues).push(work) { failedJoins.withLock { _ = $0.insert(join) } }
            }
        }
    }

    /// Reads again every guild's waiting level-ups and joins (the start's read failed): this
    /// process's guilds among them are retried, which reads each guild's own from Redis again.
    private func readLeftOverAgain() async {
        guard let backlog else { return }
        // Cleared before the read: a call for another read meanwhile (a shard taken) is not lost.
        leftOverUnread.withLock { $0 = false }
        do {
            let guilds = Set(try await backlog.waiting().map(\.guild)).union(try await backlog.waitingJoins().map(\.guild)).filter(owns)
            if !guilds.isEmpty {
                logger.info("what an earlier run left is read at last; its guilds are retried", metadata: ["guilds": "\(guilds.count)"])
            }
            failedGuilds.withLock { $0.formUnion(guilds.map(\.rawValue)) }
        } catch {
            leftOverUnread.withLock { $0 = true }
            logger.warning("what an earlier run left still cannot be read", metadata: ["error": "\(error)"])
        }
    }

    /// Reads every guild's waiting level-ups and joins again at the next retry, and retries those of
    /// the guilds this process carries out by then: what another process left when this one took
    /// its shards (their level-ups waited in Redis; this one read the backlog at its start, before
    /// those guilds were its own).
    public func readWaitingAgain() {
        leftOverUnread.withLock { $0 = true }
    }

    /// Looks at the level-ups and joins waiting in these guilds at the next retry: some may have
    /// been applied without being reported (``StatsFlusher``'s `onUnreportedLevelUps`).
    public func lookAgain(at guilds: [GuildID]) {
        guard backlog != nil else { return }
        failedGuilds.withLock { $0.formUnion(guilds.map(\.rawValue)) }
    }

    /// The level-ups waiting in Redis in `guild`; none when they cannot be read (the guild is
    /// looked at again next time).
    func waitingToRetry(in guild: GuildID) async -> [LevelUp] {
        guard let backlog else { return [] }
        do {
            let waiting = try await backlog.waiting(in: [guild])
            retried.withLock { $0.remember(waiting, for: retryInterval) }
            if !waiting.isEmpty {
                logger.info("trying again the level-ups that could not be carried out", metadata: ["guild": "\(guild)", "level_ups": "\(waiting.count)"])
            }
            return waiting
        } catch {
            failedGuilds.withLock { _ = $0.insert(guild.rawValue) }
            logger.warning("the level-ups waiting to be tried again could not be read", metadata: ["guild": "\(guild)", "error": "\(error)"])
            return []
        }
    }

    /// Whether `levelUp`, reported by a flush, is still to be carried out. A flush merges a
    /// member's new level-up into the entry waiting in Redis before its report reaches the lane, so
    /// a retry in between carried out both; the report is then dropped. One that reaches past what
    /// the retry read is carried out whole: its roles are given again (Discord keeps a role given
    /// twice once) and its highest level, which nobody has announced, is.
    func notYetRetried(_ levelUp: LevelUp) -> Bool {
        let covered = retried.withLock { $0.covers(levelUp) }
        if covered { counts.withLock { $0.alreadyRetried += 1 } }
        return !covered
    }
}

/// The level-ups retries read from Redis, per member, kept for a while (a retry interval): long
/// enough for the report of a flush the read already saw to reach the lane, short enough that a
/// member whose levels were reset and earned again is not mistaken for one.
struct RetriedLevels {
    private var read: [[UInt64]: (from: Int, to: Int, until: ContinuousClock.Instant)] = [:]

    mutating func remember(_ levelUps: [LevelUp], for lifetime: Duration) {
        let now = ContinuousClock.now
        // Bounded by the members whose level-ups failed within one lifetime.
        read = read.filter { $0.value.until > now }
        for levelUp in levelUps {
            read[[levelUp.guild.rawValue, levelUp.user.rawValue]] = (levelUp.previousLevel, levelUp.level, now + lifetime)
        }
    }

    /// Whether a read covered `levelUp`: from no earlier, to no later.
    func covers(_ levelUp: LevelUp) -> Bool {
        guard let read = read[[levelUp.guild.rawValue, levelUp.user.rawValue]], read.until > .now else { return false }
        return read.from <= levelUp.previousLevel && levelUp.level <= read.to
    }
}
