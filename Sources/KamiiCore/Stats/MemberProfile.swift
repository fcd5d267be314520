/// What a member event says about a member that trust is judged on, and the trust it gave.
public struct MemberProfile: Sendable, Equatable {
    public var hasAvatar: Bool
    /// When the member joined, Unix ms; 0 when unknown.
    public var joinedAt: UInt64
    /// Nil when the event did not say: the stored record's flag stays.
    public var isPending: Bool?
    public var isVerified: Bool
    /// The trust factor computed when the event arrived.
    public var trust: Int

    public init(hasAvatar: Bool, joinedAt: UInt64, isPending: Bool?, isVerified: Bool, trust: Int) {
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
        self.trust = trust
    }
}
