public import DiscordModels
public import Foundation

/// A moderation case: what a moderator did to a member, numbered per guild without gaps.
public struct Punishment: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case note, warn, timeout, kick, softban, ban, tempban, unban

        /// Whether the case stays in force until it expires or is revoked (a warn counts towards
        /// thresholds until revoked); a kick or an unban is done when it is recorded.
        public var isLasting: Bool {
            switch self {
            case .warn, .timeout, .ban, .tempban: true
            case .note, .kick, .softban, .unban: false
            }
        }

        /// Whether the case must carry an expiry.
        public var needsExpiry: Bool { self == .timeout || self == .tempban }
    }

    public let guild: GuildID
    /// 1, 2, 3… within the guild.
    public let caseID: Int64
    /// The member acted on.
    public let user: UserID
    /// Who recorded the case.
    public let moderator: UserID
    public let kind: Kind
    /// The current wording; earlier ones are in the case's ``ReasonRevision`` history.
    public let reason: String
    public let createdAt: Date
    /// When a timeout or tempban ends.
    public let expiresAt: Date?
    /// In force now: lasting, not expired by the scheduler, not revoked.
    public let active: Bool
    public let revokedBy: UserID?
    public let revokedAt: Date?
    public let revokeReason: String?
}

/// What a moderator asks for; the store gives it a case number.
public struct NewPunishment: Sendable {
    public var guild: GuildID
    public var user: UserID
    public var moderator: UserID
    public var kind: Punishment.Kind
    public var reason: String
    public var createdAt: Date
    public var expiresAt: Date?

    public init(guild: GuildID, user: UserID, moderator: UserID, kind: Punishment.Kind, reason: String, createdAt: Date = Date(), expiresAt: Date? = nil) {
        self.guild = guild
        self.user = user
        self.moderator = moderator
        self.kind = kind
        self.reason = reason
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// A reason is at most 512 characters — Discord's audit-log reason limit.
    static let maxReasonCharacters = 512

    /// The longest a temporary punishment may run: a hundred years (longer is a mistake).
    public static let longestDuration: TimeInterval = 100 * 31_557_600

    func validate() throws(StoreError) {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(user, "user")
        try StoreSupport.requireValid(moderator, "moderator")
        try StoreSupport.requireText(reason, "reason", maxCharacters: Self.maxReasonCharacters)
        if kind.needsExpiry {
            guard let expiresAt else { throw .invalid("expiresAt", "a \(kind.rawValue) needs an expiry") }
            guard expiresAt > createdAt else { throw .invalid("expiresAt", "must be after the case is created") }
            guard expiresAt.timeIntervalSince(createdAt) <= Self.longestDuration else {
                throw .invalid("expiresAt", "must be within \(Int(Self.longestDuration / 31_557_600)) years of the case")
            }
        }
    }
}

/// An earlier wording of a case's reason, kept when a moderator edits it.
public struct ReasonRevision: Codable, Sendable, Equatable {
    public let guild: GuildID
    public let caseID: Int64
    /// 1 for the first wording replaced, 2 for the next…
    public let revision: Int
    public let reason: String
    /// Who replaced this wording, and when.
    public let replacedBy: UserID
    public let replacedAt: Date
}
