import Foundation
public import KamiiStore

extension TrustFactor.PunishmentRecord {
    /// What a moderation case weighs on trust: nothing for notes and unbans, nor for a case that
    /// was revoked (overturned); a softban weighs as a kick, a tempban as a ban.
    public init?(_ punishment: Punishment) {
        guard punishment.revokedAt == nil else { return nil }
        let kind: TrustFactor.Punishment
        switch punishment.kind {
        case .warn: kind = .warn
        case .timeout: kind = .timeout
        case .kick, .softban: kind = .kick
        case .ban, .tempban: kind = .ban
        case .note, .unban: return nil
        }
        self.init(kind: kind, at: UInt64(max(0, punishment.createdAt.timeIntervalSince1970 * 1_000)))
    }
}

extension TrustFactor.Signals {
    /// What trust is judged on for a member as SQL's checkpoint has them: the profile their member
    /// events left, activity, karma, and their moderation cases in the guild.
    public init(checkpointed stats: ServerUserStats, cases: [Punishment]) {
        self.init(
            accountCreatedAt: stats.user.unixMilliseconds, hasAvatar: stats.hasAvatar,
            joinedAt: stats.joinedAt.flatMap { $0 > 0 ? UInt64($0) : nil }, isPending: stats.isPending == true,
            isVerified: stats.isVerified == true, messages: Int(clamping: stats.messageCount), karma: Int(clamping: stats.karma),
            punishments: cases.compactMap(TrustFactor.PunishmentRecord.init))
    }
}
