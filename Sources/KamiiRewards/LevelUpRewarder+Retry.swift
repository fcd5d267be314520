import DiscordModels
import KamiiStats

extension LevelUpRewarder {
    /// Every `retryInterval` until cancelled: each guild where a level-up could not be carried out
    /// since the last look gets a ``RewardWork/retry(_:)`` on its lane. The lane reads the guild's
    /// waiting level-ups from Redis when it gets there (``waitingToRetry(in:)``), behind whatever
    /// the guild had queued: Redis merges a member's waiting level-ups (from the lowest level to
    /// the highest), so the member ends with the roles of their level; at worst a level is
    /// announced twice (one flushed while the retry was queued).
    func retryWaiting(into queues: [RewardLane]) async {
        guard backlog != nil else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(for: retryInterval) } catch { return }
            let guilds = failedGuilds.withLock { failed -> Set<UInt64> in
                defer { failed.removeAll() }
                return failed
            }
            for guild in guilds.sorted() {
                let work = RewardWork.retry(GuildID(guild))
                // A full lane: asked again at the next look.
                if !work.lane(in: queues).push(work) { failedGuilds.withLock { _ = $0.insert(guild) } }
            }
        }
    }

    /// The level-ups waiting in Redis in `guild`; none when they cannot be read (the guild is
    /// looked at again next time).
    func waitingToRetry(in guild: GuildID) async -> [LevelUp] {
        guard let backlog else { return [] }
        do {
            let waiting = try await backlog.waiting(in: [guild])
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
}
