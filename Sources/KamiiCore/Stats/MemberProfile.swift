/// What a member event says about a member that trust is judged on, and the trust it gave.
public struct MemberProfile: Sendable, Equatable {
    public var hasAvatar: Bool
    /// When the member joined, Unix ms; 0 when the event did not say (the stored record's stays).
    public var joinedAt: UInt64
    /// Nil when the event did not say: the stored record's flag stays.
    public var isPending: Bool?
    /// Nil when it could not be judged (the guild's configuration refused, or the event listed no
    /// roles): the stored record's flag stays.
    public var isVerified: Bool?
    /// The trust factor computed when the event arrived.
    public var trust: Int
    /// The member joined a guild with level rewards (or passed its Membership Screening): a member
    /// who comes back is owed the rewards of the level they have, which Discord took away when they
    /// left. The flush that applies the profile keeps such a join in Redis until it is carried out
    /// (its `joins` hash), so a crash or a restart loses none.
    public var restoresRewards: Bool

    public init(hasAvatar: Bool, joinedAt: UInt64, isPending: Bool?, isVerified: Bool?, trust: Int, restoresRewards: Bool = false) {
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
        self.trust = trust
        self.restoresRewards = restoresRewards
    }

    /// This profile followed by a later event's: what the later one says, and what it leaves
    /// unsaid kept from this one (two events of a member may land in one flush); a join either
    /// reported stays reported.
    public func followed(by later: MemberProfile) -> MemberProfile {
        MemberProfile(
            hasAvatar: later.hasAvatar, joinedAt: later.joinedAt == 0 ? joinedAt : later.joinedAt,
            isPending: later.isPending ?? isPending, isVerified: later.isVerified ?? isVerified, trust: later.trust,
            restoresRewards: restoresRewards || later.restoresRewards)
    }
}
