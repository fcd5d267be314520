/// The trust factor: 0–100 per (guild, member), with the reasons that make it up, so a moderator
/// can see why (docs/TRUST.md has the table). Pure: the caller gathers the signals.
public enum TrustFactor {
    /// What trust is judged on.
    public struct Signals: Sendable, Equatable {
        /// When the account was made (its snowflake's time), Unix ms.
        public var accountCreatedAt: UInt64
        /// Nil when unknown (no member event seen yet): no points either way.
        public var hasAvatar: Bool?
        /// When the member joined the guild, Unix ms; nil when unknown.
        public var joinedAt: UInt64?
        /// Not yet past the guild's membership screening.
        public var isPending: Bool
        /// Holds the guild's verified role.
        public var isVerified: Bool
        /// Messages counted in the guild.
        public var messages: Int
        public var karma: Int
        /// Moderation against the member in this guild.
        public var punishments: [PunishmentRecord]

        public init(
            accountCreatedAt: UInt64, hasAvatar: Bool?, joinedAt: UInt64? = nil, isPending: Bool = false, isVerified: Bool = false,
            messages: Int = 0, karma: Int = 0, punishments: [PunishmentRecord] = []
        ) {
            self.accountCreatedAt = accountCreatedAt
            self.hasAvatar = hasAvatar
            self.joinedAt = joinedAt
            self.isPending = isPending
            self.isVerified = isVerified
            self.messages = messages
            self.karma = karma
            self.punishments = punishments
        }
    }

    /// One punishment and when it was given (Unix ms).
    public struct PunishmentRecord: Sendable, Equatable {
        public var kind: Punishment
        public var at: UInt64

        public init(kind: Punishment, at: UInt64) {
            self.kind = kind
            self.at = at
        }
    }

    public enum Punishment: String, Sendable, Equatable {
        case warn, timeout, kick, ban

        /// Points a fresh one takes away; halves every 30 days.
        var weight: Double {
            switch self {
            case .warn: 5
            case .timeout: 10
            case .kick: 15
            case .ban: 30
            }
        }
    }

    /// A score and the reasons that add up to it (before the 0–100 clamp).
    public struct Score: Sendable, Equatable {
        public var value: Int
        public var reasons: [Reason]
    }

    public struct Reason: Sendable, Equatable {
        public var reason: String
        public var points: Int
    }

    public static let baseline = 50
    static let day: UInt64 = 86_400_000
    static let punishmentHalfLife = 30.0 * 86_400_000

    /// The member's trust at `now` (Unix ms), with the reasons that make it up (what a moderator
    /// sees).
    public static func score(_ signals: Signals, now: UInt64) -> Score {
        var reasons: [Reason] = []
        reasons.reserveCapacity(8 + signals.punishments.count)
        let total = forEachReason(of: signals, now: now) { reasons.append(Reason(reason: $0, points: $1)) }
        return Score(value: min(100, max(0, total)), reasons: reasons)
    }

    /// The member's trust at `now` without its reasons: what the hot path keeps for every member
    /// event, worked out without allocating.
    public static func value(_ signals: Signals, now: UInt64) -> Int {
        min(100, max(0, forEachReason(of: signals, now: now) { _, _ in }))
    }

    /// Hands each reason that gives or takes points to `body`, the baseline first, and returns
    /// their sum (before the 0–100 clamp): the one place the rules are written.
    private static func forEachReason(of signals: Signals, now: UInt64, _ body: (String, Int) -> Void) -> Int {
        var total = baseline
        body("baseline", baseline)
        func add(_ reason: String, _ points: Int) {
            guard points != 0 else { return }
            total += points
            body(reason, points)
        }
        let accountAge = now > signals.accountCreatedAt ? now - signals.accountCreatedAt : 0
        add("account age", steps(accountAge, accountAgeSteps, else: 15))
        if let hasAvatar = signals.hasAvatar { add(hasAvatar ? "has an avatar" : "no avatar", hasAvatar ? 5 : -5) }
        if let joinedAt = signals.joinedAt {
            let tenure = now > joinedAt ? now - joinedAt : 0
            add("time in the guild", steps(tenure, tenureSteps, else: 10))
        }
        if signals.isPending { add("membership screening not passed", -10) }
        if signals.isVerified { add("verified", 10) }
        add("activity", signals.messages >= 1_000 ? 15 : signals.messages >= 100 ? 10 : signals.messages >= 10 ? 5 : 0)
        add("karma", signals.karma >= 25 ? 10 : signals.karma >= 5 ? 5 : signals.karma < 0 ? -5 : 0)
        for punishment in signals.punishments {
            let age = Double(now > punishment.at ? now - punishment.at : 0)
            add(punishment.kind.rawValue, -Int((punishment.kind.weight * pow2(-age / punishmentHalfLife)).rounded()))
        }
        return total
    }

    /// Points by the account's age: under a day, a week, a month, half a year, a year, three years.
    private static let accountAgeSteps: [(below: UInt64, points: Int)] = [
        (day, -30), (7 * day, -20), (30 * day, -10), (180 * day, 0), (365 * day, 5), (3 * 365 * day, 10),
    ]
    /// Points by the time in the guild: under ten minutes, a day, a month, half a year.
    private static let tenureSteps: [(below: UInt64, points: Int)] = [(day / 144, -10), (day, -5), (30 * day, 0), (180 * day, 5)]

    /// The points of the first step whose bound `value` is under, else `otherwise`.
    private static func steps(_ value: UInt64, _ steps: [(below: UInt64, points: Int)], else otherwise: Int) -> Int {
        steps.first { value < $0.below }?.points ?? otherwise
    }

    /// 2^x for x ≤ 0, without Foundation.
    private static func pow2(_ exponent: Double) -> Double {
        guard exponent > -64 else { return 0 }
        let whole = exponent.rounded(.down)
        let fraction = exponent - whole
        // 2^f for f in [0, 1): a short series of e^(f ln 2) is exact to well under a point.
        let x = fraction * 0.693_147_180_559_945_3
        var term = 1.0
        var sum = 1.0
        for n in 1...12 {
            term *= x / Double(n)
            sum += term
        }
        return sum * Double(sign: .plus, exponent: Int(whole), significand: 1)
    }
}
