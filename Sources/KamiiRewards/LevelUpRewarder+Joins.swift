import DiscordModels
public import KamiiCore
import DiscordREST
import KamiiStats

/// Members who come back: Discord dropped their roles, so they are given the rewards of the level
/// Redis has for them, and tried again later when that fails for a reason that may pass. With a
/// backlog, the flush that applied a join keeps it in Redis (``LevelUpBacklog/waitingJoins(in:)``)
/// until it is over here, so a crash or a restart loses none: a join that must wait is read from
/// there again at its guild's retry, and at the next start.
extension LevelUpRewarder {
    /// Gives a member who joined the reward roles of the level they have (none for a newcomer).
    public func handle(_ join: MemberJoin) async {
        await handle([.join(join)])
    }

    /// Returns whether the join is over (carried out, refused by Discord, or owed nothing); false
    /// when it waits — for a retry, or for the guild's settings to change.
    func handle(_ join: MemberJoin, unknown: inout [UInt64: RewardsUnknown]) async -> Bool {
        guard let levels else { return true }
        let rewards = await self.rewards(of: join.guild, unknown: &unknown)
        if case .success(let known) = rewards, known.rewards.isEmpty { return true }
        // The level before the rewards' absence is acted on: most joins are newcomers, owed nothing
        // whatever the guild's settings say, and are neither held nor tried again.
        let level: Int
        do {
            guard let known = try await levels.owedLevel(of: join.user, in: join.guild), known > 0 else { return true }
            level = known
        } catch let notLoaded as StatsReader.GuildNotLoaded {
            // Redis lost the guild (or has not met it): its level is known once the guild's next
            // flush loads it from the checkpoint. (Debug: a held join meets this at each retry.)
            logger.debug("a returning member's guild is not in Redis yet; tried again later", metadata: ["guild": "\(notLoaded.guild)"])
            retryLater(join)
            return false
        } catch {
            counts.withLock { $0.failures += 1 }
            logger.warning("a returning member's level could not be read", metadata: ["guild": "\(join.guild)", "error": "\(error)"])
            retryLater(join)
            return false
        }
        let known: LevelRewards
        switch rewards {
        case .success(let rewards): known = rewards
        case .failure(.unreadable):
            retryLater(join)
            return false
        case .failure(.refused(let asOf)):
            holdUntilSettingsChange(join, refusedAsOf: asOf)
            return false
        }
        let context = LevelUp(guild: join.guild, user: join.user, from: 0, to: level)
        guard known.stack else {
            // The highest tier the bot may give: with the top one refused, the next one down.
            if case .stopped(over: false) = await giveHighest(of: known.tiers(atLevel: level), for: context, counting: \Totals.rolesRestored) {
                retryLater(join)
                return false
            }
            return true
        }
        var failed = false
        for role in known.roles(atLevel: level) {
            switch await attempt(context, on: role, { () throws(RESTError) in try await actions.addRole(RoleID(role), to: join.user, in: join.guild) }) {
            case .done: counts.withLock { $0.rolesRestored += 1 }
            case .refused: break
            case .failed: failed = true
            }
        }
        // All of them again later: a role given twice is held once.
        if failed { retryLater(join) }
        return !failed
    }

    /// The joins waiting in Redis in `guild`, but those held for its settings (each would read a
    /// level for nothing); none when they cannot be read (the guild is looked at again next time).
    func joinsToRetry(in guild: GuildID) async -> [MemberJoin] {
        guard let backlog else { return [] }
        do {
            let waiting = try await backlog.waitingJoins(in: [guild])
            return joinsAwaitingSettings.withLock { held in waiting.filter { !held.holds($0.user.rawValue, in: guild.rawValue) } }
        } catch {
            failedGuilds.withLock { _ = $0.insert(guild.rawValue) }
            logger.warning("the returning members waiting to be tried again could not be read", metadata: ["guild": "\(guild)", "error": "\(error)"])
            return []
        }
    }

    /// Marks `joins` over in Redis; when that fails, they are carried out again at their guild's
    /// next retry (a role given twice is held once).
    func markDone(_ joins: [MemberJoin]) async {
        guard let backlog, !joins.isEmpty else { return }
        do {
            try await backlog.joinsDone(joins)
        } catch {
            failedGuilds.withLock { $0.formUnion(joins.map(\.guild.rawValue)) }
            logger.warning("returning members given their roles but not marked done; tried again at the next retry", metadata: ["error": "\(error)"])
        }
    }

    /// The guild's held joins (``JoinsAwaitingSettings``) are tried again at the next retry: its
    /// settings changed, and may say now what rewards are owed.
    func releaseJoins(awaitingSettingsOf guild: GuildID) {
        let users = joinsAwaitingSettings.withLock { $0.release(guild.rawValue) }
        guard !users.isEmpty else { return }
        logger.info("returning members held while the configuration was refused are tried again", metadata: ["guild": "\(guild)", "members": "\(users.count)"])
        for user in users { retryLater(MemberJoin(guild: guild, user: UserID(user))) }
    }

    /// Holds `join` until its guild's settings change, or tries it at the next retry when they
    /// changed since the read that found them refused (`asOf`, ``RewardsCache/changes``): that
    /// change's release may have come before this hold.
    private func holdUntilSettingsChange(_ join: MemberJoin, refusedAsOf asOf: UInt64) {
        // `settingsChanged` counts the change before it releases: checked and held under one lock,
        // a join is either seen changed here or held before the release looks.
        let (changed, held, first) = joinsAwaitingSettings.withLock { awaiting -> (Bool, Bool, Bool) in
            guard cache.withLock({ $0.changes }) == asOf else { return (true, false, false) }
            let before = awaiting.count(in: join.guild.rawValue)
            return (false, awaiting.hold(join.user.rawValue, in: join.guild.rawValue), before == 0)
        }
        if changed {
            retryLater(join)
        } else if !held {
            givenUp(join, because: "too many wait for their guilds' configurations to be saved")
        } else if first {
            logger.warning(
                "a returning member waits for their roles: the guild's configuration is refused until an admin saves a valid one",
                metadata: ["guild": "\(join.guild)"])
        }
    }

    private func retryLater(_ join: MemberJoin) {
        // With a backlog Redis keeps it too: the guild's retry reads it from there (a join this
        // process never held, read at start, included).
        if backlog != nil { failedGuilds.withLock { _ = $0.insert(join.guild.rawValue) } }
        let held = failedJoins.withLock { failed in
            guard failed.count < Self.failedJoinsLimit else { return false }
            failed.insert(join)
            return true
        }
        if !held { givenUp(join, because: "too many wait for a retry") }
    }

    /// Counts a join given up, and says so at the first and every thousandth. With a backlog it
    /// still waits in Redis: read again at its guild's next retry, or the next start.
    private func givenUp(_ join: MemberJoin, because reason: String) {
        let givenUp = counts.withLock { totals -> Int in
            totals.joinsGivenUp += 1
            return totals.joinsGivenUp
        }
        if givenUp == 1 || givenUp.isMultiple(of: 1_000) {
            logger.warning("a returning member's roles given up: \(reason)", metadata: ["guild": "\(join.guild)", "given_up": "\(givenUp)"])
        }
    }
}
