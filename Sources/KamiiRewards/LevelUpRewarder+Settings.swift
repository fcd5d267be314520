public import DiscordModels
import KamiiCore
import Synchronization

/// A guild's rewards as the rewarder knows them: read from its settings, kept a while, dropped
/// when the guild is saved.
extension LevelUpRewarder {
    /// The guild's configuration changed: its rewards are read again at its next level-up.
    public func settingsChanged(_ guild: GuildID) {
        refusedTargets.forget(guild.rawValue)
        cache.withLock { cache in
            cache.entries.removeValue(forKey: guild.rawValue)
            cache.changes &+= 1
        }
        // After the count: a join found refused by a read before it is then held before this
        // looks, or sees the count moved (``holdUntilSettingsChange(_:refusedAsOf:)``).
        releaseJoins(awaitingSettingsOf: guild)
        // And what waits in Redis: joins not held (past the holds' bounds, or read before a
        // restart) are owed what the new settings say too — where this process carries the
        // guild's work out (every process hears every guild's saves).
        if owns(guild) { lookAgain(at: [guild]) }
    }

    /// The guild's rewards (or its configuration's refusal), cached for `settingsLifetime`, or why
    /// they are not known — now, or earlier in the batch (`unknown`). One read: the source spaces
    /// out its own reads while its database is away, and the level-up waits for the next retry.
    func rewards(of guild: GuildID, unknown: inout [UInt64: RewardsUnknown]) async -> Result<LevelRewards, RewardsUnknown> {
        if let reason = unknown[guild.rawValue] { return .failure(reason) }
        let rewards = await rewards(of: guild)
        if case .failure(let reason) = rewards { unknown[guild.rawValue] = reason }
        return rewards
    }

    /// Why a guild's rewards are not known.
    enum RewardsUnknown: Error {
        /// Its settings could not be read (the database away).
        case unreadable
        /// Its stored configuration is refused (``GuildSettings/refused``) until an admin saves one;
        /// `asOf` the settings changes counted (``RewardsCache/changes``) before the read.
        case refused(asOf: UInt64)
    }

    private func rewards(of guild: GuildID) async -> Result<LevelRewards, RewardsUnknown> {
        let now = ContinuousClock.now
        let (cached, changes) = cache.withLock { ($0.entries[guild.rawValue], $0.changes) }
        if let cached, cached.until > now {
            // A refusal cached holds until the guild's settings change (which drops the entry):
            // as of now, then.
            return cached.rewards.map { .success($0) } ?? .failure(.refused(asOf: changes))
        }
        // A refused configuration says nothing about rewards: the level-up waits for a valid one.
        // It is cached like rewards: every join in a refused guild would read the database again.
        let read = await settings.settings(for: guild)
        guard let settings = read else {
            counts.withLock { $0.failures += 1 }
            return .failure(.unreadable)
        }
        let rewards = settings.isRefused ? nil : settings.levelRewards
        cache.withLock { cache in
            // A change that came in while this read was on its way may not be in it.
            guard cache.changes == changes else { return }
            // Bounded: the guilds that level members up in one lifetime are few next to all guilds.
            if cache.entries.count >= 50_000 { cache.entries = cache.entries.filter { $0.value.until > now } }
            cache.entries[guild.rawValue] = (rewards, now + settingsLifetime)
        }
        guard let rewards else {
            counts.withLock { $0.failures += 1 }
            return .failure(.refused(asOf: changes))
        }
        return .success(rewards)
    }

    /// Rewards read per guild (nil: the configuration refused), and how many settings changes have
    /// come in (a read that began before one is not kept).
    struct RewardsCache {
        var entries: [UInt64: (rewards: LevelRewards?, until: ContinuousClock.Instant)] = [:]
        var changes: UInt64 = 0
    }
}
