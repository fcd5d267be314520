import DiscordModels
import DiscordREST
import KamiiCore
import KamiiStats

/// A level-up's reward roles: given as far as the member's record says they are owed them now.
extension LevelUpRewarder {
    /// Gives (and, when rewards replace each other, takes) the roles of a level-up, as far as the
    /// member is owed them now (``owedPart(of:)``). `over` false when a call may pass later (the
    /// level-up stays waiting); `announcing` the level to announce, nil when the member is owed
    /// nothing (their record gone, or not above the level before).
    func applyRoles(_ reported: LevelUp, _ rewards: LevelRewards) async -> (over: Bool, announcing: Int?) {
        guard !rewards.changes(from: reported.previousLevel, to: reported.level).isEmpty else { return (true, reported.level) }
        let levelUp: LevelUp
        switch await owedPart(of: reported) {
        case .roles(let owed): levelUp = owed
        case .nothing:
            counts.withLock { $0.rolesWithheld += 1 }
            return (true, nil)
        case .afterScreening:
            counts.withLock { $0.rolesWithheld += 1 }
            return (false, reported.level)
        }
        return (await giveRoles(levelUp, rewards), levelUp.level)
    }

    /// The roles of `levelUp`; false when a call may pass later.
    private func giveRoles(_ levelUp: LevelUp, _ rewards: LevelRewards) async -> Bool {
        let changes = rewards.changes(from: levelUp.previousLevel, to: levelUp.level)
        guard !changes.isEmpty else { return true }
        let guild = levelUp.guild, user = levelUp.user
        if rewards.stack {
            var over = true
            for role in changes.add {
                let outcome = await attempt(levelUp, on: role, { () throws(RESTError) in try await actions.addRole(RoleID(role), to: user, in: guild) })
                if outcome == .done { counts.withLock { $0.rolesAdded += 1 } }
                over = over && outcome.isOver
            }
            return over
        }
        // Replaced rewards go only once the new one is held: a member whose new role was refused
        // (above the bot's, deleted) is given the next one down — most often the one they had —
        // rather than ending with neither; one whose call failed for now keeps theirs until the
        // level-up's retry.
        let top: LevelRewards.Reward
        switch await giveHighest(of: rewards.tiers(atLevel: levelUp.level), for: levelUp, heldUpTo: levelUp.previousLevel, counting: \Totals.rolesAdded) {
        case .given(let reward): top = reward
        case .alreadyHeld: return true
        case .stopped(let over): return over
        }
        var over = true
        var remove = rewards.roles(replacedBy: top)
        // Many lower tiers: one read of the member's roles instead of a removal of each tier.
        if remove.count > 1 {
            var held: [RoleID]?
            let read = await attempt(levelUp, on: user.rawValue, { () throws(RESTError) in held = try await actions.roles(of: user, in: guild) })
            switch read {
            case .done: if let held { remove = remove.filter { role in held.contains { $0.rawValue == role } } }
            case .refused: return over  // the member left: nothing of theirs to remove
            case .failed: return false
            }
        }
        for role in remove {
            let outcome = await attempt(levelUp, on: role, { () throws(RESTError) in try await actions.removeRole(RoleID(role), from: user, in: guild) })
            if outcome == .done { counts.withLock { $0.rolesRemoved += 1 } }
            over = over && outcome.isOver
        }
        return over
    }

    /// What a level-up's member is owed now (``owedPart(of:)``).
    enum OwedRoles {
        /// The roles up to this level-up's level (the reported one, or the record's when lower).
        case roles(LevelUp)
        /// None: Redis has no record of them in the guild (deleted on request since), or their
        /// record's level is not above the level before (the guild loaded back from an older
        /// checkpoint). The level-up is over.
        case nothing
        /// None yet: their record says they are pending Membership Screening and Redis holds no
        /// level-up of theirs: they left and came back after this one was reported (a role would
        /// let them skip the screening; the flush that saw them back deleted its copy in Redis, so
        /// its retry finds nothing, and passing is a join, which gives the level's roles).
        case afterScreening
    }

    /// The part of a level-up whose roles the member is owed now, by their record in Redis. Only
    /// level-ups that change roles are read for, one HMGET each. A record that cannot be read
    /// (Redis lost the guild, or does not answer) leaves the level-up as reported: its copy in
    /// Redis may be gone with the guild, and holding it would lose the roles for good.
    func owedPart(of levelUp: LevelUp) async -> OwedRoles {
        guard let levels else { return .roles(levelUp) }
        let standing: (level: Int, isPending: Bool)?
        do {
            standing = try await levels.standing(of: levelUp.user, in: levelUp.guild)
        } catch {
            logger.debug("a level-up's member could not be read; its roles are given as reported", metadata: [
                "guild": "\(levelUp.guild)", "error": "\(error)",
            ])
            return .roles(levelUp)
        }
        guard let standing else { return .nothing }
        if standing.isPending {
            // Read after the record: a level-up of theirs still waiting in Redis was flushed after
            // any return pending (whose flush deletes it) — they earned XP while the record says
            // pending, which Discord does not let a pending member do: the flag is stale (an update
            // missed), and the roles are given.
            guard let backlog, (try? await backlog.hasWaiting(levelUp.user, in: levelUp.guild)) == true else { return .afterScreening }
        }
        guard standing.level > levelUp.previousLevel else { return .nothing }
        var part = levelUp
        part.level = min(levelUp.level, standing.level)
        return .roles(part)
    }
}
