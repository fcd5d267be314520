/// One member's live stats in one guild, as Redis keeps them: a field of the guild's members hash
/// (`<prefix>:{g}:members`, the field is the user ID), its value these numbers joined by `:` —
/// `xp:level:msgs:xp_msgs:last_xp:karma:trust:avatar:joined:pending:verified` — with an empty
/// place for what is not known yet (`last_xp` before a first XP, `trust` before a member event or a
/// checkpoint, the last four before a member event).
///
/// One packed field per member rather than a hash per member: the flush script then reads and
/// writes all of a guild's members in one HMGET and one HSET, which measured half the Redis CPU of
/// two hash commands per member, and a member costs ≈ 38 bytes of Redis memory instead of ≈ 170.
public struct MemberRecord: Sendable, Equatable {
    public var xp = 0
    public var level = 0
    public var messages = 0
    /// Messages that earned XP.
    public var xpMessages = 0
    /// When the member last earned XP (the message's time, Unix ms).
    public var lastXPAt: UInt64?
    public var karma = 0
    public var trust: Int?
    public var hasAvatar: Bool?
    /// Unix ms; 0 when the member event did not say.
    public var joinedAt: UInt64?
    public var isPending: Bool?
    public var isVerified: Bool?

    public init(
        xp: Int = 0, level: Int = 0, messages: Int = 0, xpMessages: Int = 0, lastXPAt: UInt64? = nil, karma: Int = 0, trust: Int? = nil,
        hasAvatar: Bool? = nil, joinedAt: UInt64? = nil, isPending: Bool? = nil, isVerified: Bool? = nil
    ) {
        self.xp = xp
        self.level = level
        self.messages = messages
        self.xpMessages = xpMessages
        self.lastXPAt = lastXPAt
        self.karma = karma
        self.trust = trust
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
    }

    /// Reads a stored value; nil when it is not one (eleven places, numbers or empty).
    public init?(encoded: String) {
        let places = encoded.split(separator: ":", omittingEmptySubsequences: false)
        guard places.count == 11 else { return nil }
        func number(_ index: Int) -> Int?? {
            let place = places[index]
            if place.isEmpty { return .some(nil) }
            guard let value = Int(place) else { return nil }
            return .some(value)
        }
        guard let xp = number(0), let level = number(1), let messages = number(2), let xpMessages = number(3), let last = number(4),
              let karma = number(5), let trust = number(6), let avatar = number(7), let joined = number(8), let pending = number(9),
              let verified = number(10)
        else { return nil }
        self.init(
            xp: xp ?? 0, level: level ?? 0, messages: messages ?? 0, xpMessages: xpMessages ?? 0, lastXPAt: last.map { UInt64(max(0, $0)) },
            karma: karma ?? 0, trust: trust, hasAvatar: avatar.map { $0 != 0 }, joinedAt: joined.map { UInt64(max(0, $0)) },
            isPending: pending.map { $0 != 0 }, isVerified: verified.map { $0 != 0 })
    }

    /// The stored value.
    public var encoded: String {
        func flag(_ value: Bool?) -> String { value.map { $0 ? "1" : "0" } ?? "" }
        let places: [String] = [
            String(xp), String(level), String(messages), String(xpMessages), lastXPAt.map(String.init) ?? "", String(karma),
            trust.map(String.init) ?? "", flag(hasAvatar), joinedAt.map(String.init) ?? "", flag(isPending), flag(isVerified),
        ]
        return places.joined(separator: ":")
    }

    /// The Lua pattern that reads a stored value into its eleven places (the flush and checkpoint
    /// scripts use it).
    /// Every place may be signed (karma is; a hand-edited or hydrated value might be).
    static let luaPattern = "^(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*)$"
}
