public import DiscordModels
public import Foundation
import SQLKit

extension KamiiStore {
    /// Records a case with the guild's next case number, allocated in the same transaction: two
    /// moderators acting at once never share a number, and a failed insert leaves no gap.
    public func createCase(_ new: NewPunishment) async throws(StoreError) -> Punishment {
        try new.validate()
        return try await transaction { database in
            try await StoreSupport.requireGuild(new.guild, in: database)
            let caseID = try await StoreSupport.nextNumber("case", guild: new.guild, in: database)
            try await database.raw("""
                INSERT INTO punishments (guild_id, case_id, user_id, moderator_id, kind, reason, created_at, expires_at, active)
                VALUES (\(bind: new.guild.column), \(bind: caseID), \(bind: new.user.column), \(bind: new.moderator.column),
                        \(bind: new.kind.rawValue), \(bind: new.reason), \(bind: new.createdAt.unixMilliseconds),
                        \(bind: new.expiresAt?.unixMilliseconds), \(bind: new.kind.isLasting ? 1 : 0))
                """).run()
            return Punishment(
                guild: new.guild, caseID: caseID, user: new.user, moderator: new.moderator, kind: new.kind, reason: new.reason,
                createdAt: new.createdAt.storedPrecision, expiresAt: new.expiresAt?.storedPrecision, active: new.kind.isLasting,
                revokedBy: nil, revokedAt: nil, revokeReason: nil)
        }
    }

    /// One case.
    public func punishment(_ caseID: Int64, in guild: GuildID) async throws(StoreError) -> Punishment? {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID)
                """).first().map(Punishment.init(row:))
        }
    }

    /// Rewrites a case's reason; the old wording is kept in its history.
    public func editReason(
        of caseID: Int64, in guild: GuildID, to reason: String, by editor: UserID, at time: Date = Date()
    ) async throws(StoreError) {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(editor, "editor")
        try StoreSupport.requireText(reason, "reason", maxCharacters: NewPunishment.maxReasonCharacters)
        try await transaction { database in
            try await StoreSupport.requireGuild(guild, in: database)
            // Locked, so concurrent edits queue and each one's history row holds the wording it replaced.
            guard let old = try await database.raw("""
                SELECT reason FROM punishments WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID)\(StoreSupport.forUpdate(database))
                """).first()
            else { throw StoreError(.notFound, "case \(caseID) does not exist in guild \(guild)") }
            let revision = try await database.raw("""
                SELECT COUNT(*) AS revisions FROM punishment_reason_history WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID)
                """).first()?.decode(column: "revisions", as: Int.self) ?? 0
            try await database.raw("""
                INSERT INTO punishment_reason_history (guild_id, case_id, revision, reason, replaced_by, replaced_at)
                VALUES (\(bind: guild.column), \(bind: caseID), \(bind: revision + 1), \(bind: try old.decode(column: "reason", as: String.self)),
                        \(bind: editor.column), \(bind: time.unixMilliseconds))
                """).run()
            try await database.raw("""
                UPDATE punishments SET reason = \(bind: reason) WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID)
                """).run()
        }
    }

    /// The earlier wordings of a case's reason, oldest first.
    public func reasonHistory(of caseID: Int64, in guild: GuildID) async throws(StoreError) -> [ReasonRevision] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.revisionColumns) FROM punishment_reason_history
                WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID) ORDER BY revision
                """).all().map(ReasonRevision.init(row:))
        }
    }

    /// A member's cases in a guild, oldest first.
    public func cases(of user: UserID, in guild: GuildID) async throws(StoreError) -> [Punishment] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments
                WHERE guild_id = \(bind: guild.column) AND user_id = \(bind: user.column) ORDER BY case_id
                """).all().map(Punishment.init(row:))
        }
    }

    /// The cases of several members of a guild, each member's oldest first (a checkpoint's trust
    /// recomputation). Members without a case are absent.
    public func cases(of users: [UserID], in guild: GuildID) async throws(StoreError) -> [UserID: [Punishment]] {
        var found: [UserID: [Punishment]] = [:]
        // A bounded number of binds per statement (SQLite allows 32,766; PostgreSQL 65,535).
        for start in stride(from: 0, to: users.count, by: 500) {
            let part = users[start..<min(start + 500, users.count)].map(\.column)
            let rows = try await read { database in
                try await database.raw("""
                    SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments
                    WHERE guild_id = \(bind: guild.column) AND user_id IN (\(binds: part)) ORDER BY user_id, case_id
                    """).all().map(Punishment.init(row:))
            }
            for punishment in rows { found[punishment.user, default: []].append(punishment) }
        }
        return found
    }

    /// Active cases (in every guild) whose expiry is at or before `time`: what the scheduler lifts next.
    public func activePunishments(expiringBefore time: Date, limit: Int = 500) async throws(StoreError) -> [Punishment] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments
                WHERE active = 1 AND expires_at IS NOT NULL AND expires_at <= \(bind: time.unixMilliseconds)
                ORDER BY expires_at, guild_id, case_id LIMIT \(bind: max(0, limit))
                """).all().map(Punishment.init(row:))
        }
    }

    /// Marks an active case as over because it expired (a tempban lifted, a timeout ended).
    /// - Returns: false if the case was no longer active (already closed or revoked).
    @discardableResult
    public func closeCase(_ caseID: Int64, in guild: GuildID) async throws(StoreError) -> Bool {
        try StoreSupport.requireValid(guild, "guild")
        return try await transaction { database in
            try await Self.requireCase(caseID, in: guild, database)
            let rows = try await database.raw("""
                UPDATE punishments SET active = 0 WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID) AND active = 1
                RETURNING case_id
                """).all()
            return !rows.isEmpty
        }
    }

    /// Revokes a case (a pardon, an unban, a retracted warning): it stops counting and records who
    /// revoked it and why. Revoking twice keeps the first revocation.
    @discardableResult
    public func revokeCase(
        _ caseID: Int64, in guild: GuildID, by moderator: UserID, reason: String, at time: Date = Date()
    ) async throws(StoreError) -> Bool {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(moderator, "moderator")
        try StoreSupport.requireText(reason, "reason", maxCharacters: NewPunishment.maxReasonCharacters)
        return try await transaction { database in
            try await Self.requireCase(caseID, in: guild, database)
            let rows = try await database.raw("""
                UPDATE punishments SET active = 0, revoked_by = \(bind: moderator.column), revoked_at = \(bind: time.unixMilliseconds),
                    revoke_reason = \(bind: reason)
                WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID) AND revoked_by IS NULL
                RETURNING case_id
                """).all()
            return !rows.isEmpty
        }
    }

    private static func requireCase(_ caseID: Int64, in guild: GuildID, _ database: any SQLDatabase) async throws {
        try await StoreSupport.requireGuild(guild, in: database)
        let row = try await database.raw("""
            SELECT case_id FROM punishments WHERE guild_id = \(bind: guild.column) AND case_id = \(bind: caseID)
            """).first()
        guard row != nil else { throw StoreError(.notFound, "case \(caseID) does not exist in guild \(guild)") }
    }

    static let revisionColumns = "guild_id, case_id, revision, reason, replaced_by, replaced_at"

    static let punishmentColumns = """
        guild_id, case_id, user_id, moderator_id, kind, reason, created_at, expires_at, active, revoked_by, revoked_at, revoke_reason
        """
}

extension Punishment {
    /// A case from a `punishments` row.
    init(row: any SQLRow) throws {
        let kind = try row.decode(column: "kind", as: String.self)
        self.init(
            guild: try row.id("guild_id"),
            caseID: try row.decode(column: "case_id", as: Int64.self),
            user: try row.id("user_id"),
            moderator: try row.id("moderator_id"),
            kind: try Punishment.Kind(rawValue: kind) ?? { throw StoreError(.database, "unknown punishment kind \(kind)") }(),
            reason: try row.decode(column: "reason", as: String.self),
            createdAt: try row.time("created_at"),
            expiresAt: try row.optionalTime("expires_at"),
            active: try row.decode(column: "active", as: Int.self) != 0,
            revokedBy: try row.optionalID("revoked_by"),
            revokedAt: try row.optionalTime("revoked_at"),
            revokeReason: try row.decode(column: "revoke_reason", as: String?.self))
    }
}

extension ReasonRevision {
    /// A revision from a `punishment_reason_history` row.
    init(row: any SQLRow) throws {
        self.init(
            guild: try row.id("guild_id"),
            caseID: try row.decode(column: "case_id", as: Int64.self),
            revision: try row.decode(column: "revision", as: Int.self),
            reason: try row.decode(column: "reason", as: String.self),
            replacedBy: try row.id("replaced_by"),
            replacedAt: try row.time("replaced_at"))
    }
}
