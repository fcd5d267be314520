import DiscordModels
import KamiiStats

extension LevelUpRewarder {
    /// Every `retryInterval` until cancelled: the guilds where a level-up could not be carried out
    /// since the last look have their waiting level-ups read again from Redis and queued like new
    /// ones. Redis merges a member's waiting level-ups (from the lowest level to the highest), so
    /// whatever came in between, carrying out the merged one leaves the member with the roles of
    /// their level; at worst a level is announced twice.
    func retryWaiting(into queues: [RewardLane]) async {
        guard let backlog else { return }
        while !Task.isCancelled {
            do { try await Task.sleep(for: retryInterval) } catch { return }
            let guilds = failedGuilds.withLock { failed -> Set<UInt64> in
                defer { failed.removeAll() }
                return failed
            }
            guard !guilds.isEmpty else { continue }
            do {
                let waiting = try await backlog.waiting(in: guilds.sorted().map(GuildID.init))
                guard !waiting.isEmpty else { continue }
                logger.info("trying again the level-ups that could not be carried out", metadata: ["level_ups": "\(waiting.count)"])
                await feed(AsyncStream { continuation in
                    for levelUp in waiting { continuation.yield(RewardWork.levelUp(levelUp)) }
                    continuation.finish()
                }, into: queues)
            } catch {
                failedGuilds.withLock { $0.formUnion(guilds) }
                logger.warning("the level-ups waiting to be tried again could not be read", metadata: ["error": "\(error)"])
            }
        }
    }
}
