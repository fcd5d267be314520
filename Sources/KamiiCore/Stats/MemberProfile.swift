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
    /// The member joined a guild with level rewards, not pending Membership Screening: a member who
    /// comes back is owed the rewards of the level they have, which Discord took away when they
    /// left. The flush that applies the profile keeps such a join in Redis until it is carried out
    /// (its `joins` hash), so a crash or a restart loses none.
    public var restoresRewards: Bool
    /// A member update in a guild with level rewards said the member is not pending: if the stored
    /// record says they were (they joined pending), they passed Membership Screening, and the flush
    /// takes it as their join. Not before: a role given to a pending member lets them past the
    /// screening and the guild's verification level (Discord's guild member docs). Judged against
    /// the record in Redis, so a member who passes a day after joining, across restarts, is owed
    /// their rewards as one who passes at once.
    public var endsScreening: Bool

    public init(
        hasAvatar: Bool, joinedAt: UInt64, isPending: Bool?, isVerified: Bool?, trust: Int, restoresRewards: Bool = false,
        endsScreening: Bool = false
    ) {
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
        self.trust = trust
        self.restoresRewards = restoresRewards
        self.endsScreening = endsScreening
    }

    /// This profile followed by a later event's: what the later one says, and what it leaves
    /// unsaid kept from this one (two events of a member may land in one flush). A join stays
    /// reported, and a pending join followed by the end of screening is one — unless the later
    /// event is a join pending again (the member left and came back), which waits for its own end.
    public func followed(by later: MemberProfile) -> MemberProfile {
        let pendingAgain = later.isPending == true
        return MemberProfile(
            hasAvatar: later.hasAvatar, joinedAt: later.joinedAt == 0 ? joinedAt : later.joinedAt,
            isPending: later.isPending ?? isPending, isVerified: later.isVerified ?? isVerified, trust: later.trust,
            restoresRewards: !pendingAgain && (restoresRewards || later.restoresRewards || (isPending == true && later.endsScreening)),
            endsScreening: later.endsScreening || (endsScreening && !pendingAgain))
    }
}
