/// A guild actor's memory of its members' XP cooldowns, exact where it can be.
///
/// Redis holds each member's last XP time and re-checks every grant the flush brings against it, so
/// a grant the actor sends in doubt costs Redis a check, never a wrong total; a message the actor
/// holds back as cooling down never reaches Redis. So the actor may hold back only what Redis
/// would refuse: it remembers a member's last XP time only when Redis's must be the same.
///
/// That holds for every grant the actor judges from an exact memory (both apply the same rule to
/// the same messages in the same order), and for every grant of a message at least a cooldown
/// after anything Redis may hold. It does not hold when the actor starts (a restart, an eviction):
/// Redis may hold a last XP the actor never saw, from messages before its first one. Until a
/// cooldown (and the order skew) past that first message, a member the actor has not seen is in
/// doubt: their messages
/// go to Redis as candidates, and Redis decides. A member in doubt is known again at the first
/// message a cooldown after their last candidate and past that window — which Redis accepts
/// whatever it decided before.
///
/// A change of the cooldown puts everything in doubt again, from the message that brings it: a
/// flush judges all of a guild's grants by the batch's last cooldown, so Redis may judge grants
/// the actor made under the old one differently.
struct XPCooldowns {
    /// What to do with a member's message that earns XP.
    enum Verdict: Equatable {
        /// Grant it: Redis accepts it too (with no cooldown, one in the very millisecond of the last
        /// may be refused, which holds nothing back).
        case grant
        /// Send it as a grant Redis may refuse (the actor cannot tell).
        case candidate
        /// Hold it back: Redis would refuse it.
        case coolingDown
    }

    /// How far message times (Discord's snowflakes) may run out of the gateway's order: a message
    /// delivered before the actor's first one may carry a later time by this much.
    static let orderSkewMilliseconds: UInt64 = 10_000

    /// Members' last XP times that Redis holds too.
    private var known = MemberTimes()
    /// Members in doubt: the time of their last candidate.
    private var inDoubt = MemberTimes()
    /// The time of the first message judged (since the cooldown last changed); nil before it.
    private var firstMessageTime: UInt64?
    /// The cooldown the remembered times were judged under.
    private var judgedCooldown: UInt64?

    /// Members remembered, known or in doubt (what compaction is measured by).
    var count: Int { known.count + inDoubt.count }

    /// The verdict on a message of `member` at `time` (milliseconds) under `cooldown`.
    mutating func verdict(for member: UInt64, at time: UInt64, cooldown: UInt64) -> Verdict {
        if judgedCooldown != cooldown {
            if judgedCooldown != nil { restartInDoubt(at: time) }
            judgedCooldown = cooldown
        }
        if let last = known[member] {
            return XPRules.isCoolingDown(messageTime: time, lastXPAt: last, cooldownMilliseconds: cooldown) ? .coolingDown : .grant
        }
        let first = firstMessageTime ?? time
        firstMessageTime = first
        // Past this, nothing from before the actor's first message can hold a message back.
        let unseenUntil = first &+ Self.orderSkewMilliseconds &+ cooldown
        if !inDoubt.isEmpty, let candidate = inDoubt[member] {
            // Redis holds the last candidate it accepted, or what it held before: past a cooldown
            // after both, this message is accepted whichever it is.
            let mayBeCooling = XPRules.isCoolingDown(messageTime: time, lastXPAt: candidate, cooldownMilliseconds: cooldown)
            return mayBeCooling || time < unseenUntil ? .candidate : .grant
        }
        return time < unseenUntil ? .candidate : .grant
    }

    /// Records that a message of `member` at `time` was sent to Redis under `verdict` (a message
    /// that earned nothing is not recorded: Redis never sees it).
    mutating func sent(_ verdict: Verdict, by member: UInt64, at time: UInt64) {
        switch verdict {
        case .grant:
            known[member] = time
            if !inDoubt.isEmpty, inDoubt.removeValue(forKey: member) != nil, inDoubt.isEmpty {
                // The last member in doubt known: its storage goes too.
                inDoubt = MemberTimes()
            }
        case .candidate:
            // The latest sent, whatever order their times came in: Redis may hold any of them.
            inDoubt[member] = max(inDoubt[member] ?? 0, time)
        case .coolingDown:
            break
        }
    }

    /// Forgets what can no longer hold back or put in doubt a message at `newest` or later, or up to
    /// the order skew before it: a member forgotten is judged as one not seen, which after the first
    /// window is a grant.
    mutating func compact(newest: UInt64, cooldown: UInt64) {
        let horizon = cooldown &+ Self.orderSkewMilliseconds
        known.keepOnly { _, last in last &+ horizon > newest }
        inDoubt.keepOnly { _, last in last &+ horizon > newest }
    }

    /// Everyone remembered is in doubt again, and anyone not seen until a cooldown past `time`.
    private mutating func restartInDoubt(at time: UInt64) {
        let remembered = known
        remembered.forEach { member, last in inDoubt[member] = max(inDoubt[member] ?? 0, last) }
        known = MemberTimes()
        firstMessageTime = time
    }
}
