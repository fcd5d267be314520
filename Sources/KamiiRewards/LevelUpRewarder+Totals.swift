import KamiiStats

extension LevelUpRewarder {
    /// What was done since start.
    public struct Totals: Sendable, Equatable {
        /// Level-ups handled (one tried again counts again).
        public var levelUps = 0
        public var rolesAdded = 0
        public var rolesRemoved = 0
        /// Announcement messages sent (one may name several members).
        public var announcements = 0
        /// Members named in them.
        public var membersAnnounced = 0
        /// Reward roles given again to members who came back.
        public var rolesRestored = 0
        /// Calls Discord refused or that failed after retries, and reads of a guild's settings that
        /// failed or found its configuration refused (its level-ups wait in Redis; a refusal is
        /// counted once a read, kept ``settingsLifetime``, not once per level-up waiting).
        public var failures = 0
        /// Level-ups dropped because their lane was full.
        public var dropped = 0
        /// Returning members given up in this run because too many were held (for a retry, without
        /// a backlog; or for their guild's configuration to be saved). With a backlog they still
        /// wait in Redis, for their guild's next retry or the next start.
        public var joinsGivenUp = 0
        /// Calls not sent: Discord refused the same role or channel in the guild lately
        /// (``RefusedTargets``), and would again.
        public var notSent = 0
        /// Level-ups whose roles were not given (``LevelUpRewarder/OwedRoles``): the member's
        /// record says pending Membership Screening (counted at each try), or is gone (deleted on
        /// request), or is not above the level before.
        public var rolesWithheld = 0
        /// Calls held back, unsent, because Discord refused so many requests lately that the share
        /// of the invalid-request budget left to rewards is spent (their work waits for a retry).
        public var heldForBudget = 0
        /// Level-ups a retry had already carried out (read from Redis, where the flush had merged
        /// them, before the flush's report reached the lane): not carried out again.
        public var alreadyRetried = 0

        public init(
            levelUps: Int = 0, rolesAdded: Int = 0, rolesRemoved: Int = 0, announcements: Int = 0, membersAnnounced: Int = 0,
            rolesRestored: Int = 0, failures: Int = 0, dropped: Int = 0, alreadyRetried: Int = 0, notSent: Int = 0
        ) {
            self.levelUps = levelUps
            self.rolesAdded = rolesAdded
            self.rolesRemoved = rolesRemoved
            self.announcements = announcements
            self.membersAnnounced = membersAnnounced
            self.rolesRestored = rolesRestored
            self.failures = failures
            self.dropped = dropped
            self.alreadyRetried = alreadyRetried
            self.notSent = notSent
        }
    }
}

extension LevelUpRewarder {
    /// A call held back for the invalid-request budget: counted, said at the first and every
    /// thousandth, and failed for now (its work waits in Redis for a retry).
    func heldForBudget(_ levelUp: LevelUp) -> Outcome {
        let held = counts.withLock { totals -> Int in
            totals.heldForBudget += 1
            return totals.heldForBudget
        }
        if held == 1 || held.isMultiple(of: 1_000) {
            logger.warning("reward calls held back: Discord refused many requests lately, and rewards keep to half the invalid-request budget", metadata: [
                "guild": "\(levelUp.guild)", "held": "\(held)",
            ])
        }
        return .failed
    }
}
