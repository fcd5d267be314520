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
