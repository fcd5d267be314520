public import DiscordModels
public import KamiiCore
public import KamiiStore

extension TrustFactor.Signals {
    /// What trust is judged on for `user` from their live record in Redis: the profile their member
    /// events left, activity, karma — and their moderation cases in the guild (docs/TRUST.md). The
    /// checkpointer's and `kamii trust`'s one way of gathering them.
    public init(user: UserID, record: MemberRecord, cases: [Punishment]) {
        self.init(
            accountCreatedAt: user.unixMilliseconds, hasAvatar: record.hasAvatar,
            joinedAt: record.joinedAt.flatMap { $0 > 0 ? $0 : nil }, isPending: record.isPending == true,
            isVerified: record.isVerified == true, messages: record.messages, karma: record.karma,
            punishments: cases.compactMap(TrustFactor.PunishmentRecord.init))
    }
}

extension MemberRecord {
    /// The record a guild loaded back from SQL gives the member: their checkpointed row as Redis
    /// holds it (and as `kamii trust` judges a member Redis does not hold).
    public init(loadedFrom row: ServerUserStats) {
        self.init(
            xp: Int(row.xp), level: row.level, messages: Int(row.messageCount), xpMessages: Int(row.xpMessages),
            lastXPAt: row.lastXPAt.map { UInt64(max(0, $0)) }, karma: Int(row.karma), trust: row.trust,
            hasAvatar: row.hasAvatar, joinedAt: row.joinedAt.map { UInt64(max(0, $0)) }, isPending: row.isPending,
            isVerified: row.isVerified)
    }
}
