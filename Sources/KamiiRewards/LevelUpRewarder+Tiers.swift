import DiscordModels
import DiscordREST
import KamiiCore
import KamiiStats

/// Rewards that replace each other: the member is given the highest tier Discord lets the bot give.
extension LevelUpRewarder {
    /// How giving one of a member's tiers ended.
    enum TierGiven {
        /// This tier's role is the member's now.
        case given(LevelRewards.Reward)
        /// The highest tier the bot may give is one the member reached before this level-up, and
        /// holds already (with the tiers below it removed then): nothing to do.
        case alreadyHeld
        /// None was given: `over` false when a call may pass later (the work waits for a retry),
        /// true when no tier can be given (every role refused, or the member is gone).
        case stopped(over: Bool)
    }

    /// Gives the first of `tiers` (highest first, ``LevelRewards/tiers(atLevel:)``) Discord accepts,
    /// counting it in `counter`. A tier whose role is refused for itself (above the bot's, deleted)
    /// falls to the next one down; a refusal of the member (they left) or of the bot's access ends
    /// the walk, as no tier would be given, and so does a call that may pass later — a lower tier
    /// given meanwhile would only be replaced again at the retry. A tier at or below `heldUpTo`
    /// (the level before a level-up) the member holds already: it ends the walk, unsent. At most
    /// ``refusalsPerWalk`` refusals are sent to Discord per walk (each spends the invalid-request
    /// budget; a bot without Manage Roles would be refused every tier); a walk stopped there waits
    /// for the retry, which goes on past the refusals remembered.
    func giveHighest(
        of tiers: [LevelRewards.Reward], for context: LevelUp, heldUpTo held: Int? = nil, counting counter: WritableKeyPath<Totals, Int>
    ) async -> TierGiven {
        let guild = context.guild, user = context.user
        var refusalsSent = 0
        for tier in tiers {
            if let held, tier.level <= held { return .alreadyHeld }
            // Not over: the retry walks past the refusals known by then at no cost, and sends the
            // next ones (at most every tier once).
            guard refusalsSent < Self.refusalsPerWalk else { return .stopped(over: false) }
            let known = refusedTargets.isRefused(tier.role, in: guild.rawValue)
            switch await attempt(context, on: tier.role, { () throws(RESTError) in try await actions.addRole(RoleID(tier.role), to: user, in: guild) }) {
            case .done:
                counts.withLock { $0[keyPath: counter] += 1 }
                return .given(tier)
            case .failed:
                return .stopped(over: false)
            case .refused(let ofTarget):
                guard ofTarget else { return .stopped(over: true) }
                if !known { refusalsSent += 1 }
            }
        }
        return .stopped(over: true)
    }

    /// Refusals a tier walk sends to Discord at most (refusals it already knows cost no call).
    static let refusalsPerWalk = 2
}
