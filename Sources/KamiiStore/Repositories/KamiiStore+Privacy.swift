public import DiscordModels
public import Foundation
import SQLKit

/// The privacy promises: a guild's or a user's data can be exported and deleted on request.
/// What is kept after a user's deletion, and why, is in `docs/PRIVACY.md`.
extension KamiiStore {
    /// Everything stored for a guild, read in one transaction so the parts agree.
    public func exportGuild(_ guild: GuildID, at time: Date = Date()) async throws(StoreError) -> GuildDataExport {
        try StoreSupport.requireValid(guild, "guild")
        return try await transaction { database in
            let config = try await Self.loadConfig(guild, in: database)
            var templates: [String: MessageTemplate] = [:]
            for row in try await database.raw("SELECT kind, content, embed FROM message_templates WHERE guild_id = \(bind: guild.column) ORDER BY kind").all() {
                templates[try row.decode(column: "kind", as: String.self)] = try Self.template(row)
            }
            let users = try await database.raw("""
                SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE guild_id = \(bind: guild.column) ORDER BY user_id
                """).all().map(Self.serverUser)
            let punishments = try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments WHERE guild_id = \(bind: guild.column) ORDER BY case_id
                """).all().map(Self.punishment)
            var history: [Int64: [ReasonRevision]] = [:]
            for row in try await database.raw("""
                SELECT case_id, revision, reason, replaced_by, replaced_at FROM punishment_reason_history
                WHERE guild_id = \(bind: guild.column) ORDER BY case_id, revision
                """).all() {
                history[try row.decode(column: "case_id", as: Int64.self), default: []].append(ReasonRevision(
                    revision: try row.decode(column: "revision", as: Int.self),
                    reason: try row.decode(column: "reason", as: String.self),
                    replacedBy: UserID(column: try row.decode(column: "replaced_by", as: Int64.self)),
                    replacedAt: Date(unixMilliseconds: try row.decode(column: "replaced_at", as: Int64.self))))
            }
            let tickets = try await database.raw("""
                SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE guild_id = \(bind: guild.column) ORDER BY ticket_number
                """).all().map(Self.ticket)
            let audit = try await database.raw("""
                SELECT id, guild_id, actor_id, action, before_value, after_value, at FROM panel_audit WHERE guild_id = \(bind: guild.column) ORDER BY id
                """).all().map(Self.auditEntry)
            return GuildDataExport(
                guild: guild, exportedAt: time, config: config?.config, configRevision: config?.revision, templates: templates,
                serverUsers: users, cases: punishments.map { .init(punishment: $0, reasonHistory: history[$0.caseID] ?? []) },
                tickets: tickets, panelAudit: audit)
        }
    }

    /// Everything stored about a user in any guild.
    public func exportUser(_ user: UserID, at time: Date = Date()) async throws(StoreError) -> UserDataExport {
        try StoreSupport.requireValid(user, "user")
        return try await transaction { database in
            let id = user.column
            return UserDataExport(
                user: user, exportedAt: time,
                serverUsers: try await database.raw("""
                    SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE user_id = \(bind: id) ORDER BY guild_id
                    """).all().map(Self.serverUser),
                casesAbout: try await database.raw("""
                    SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments WHERE user_id = \(bind: id) ORDER BY guild_id, case_id
                    """).all().map(Self.punishment),
                casesAsModerator: try await database.raw("""
                    SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments
                    WHERE moderator_id = \(bind: id) OR revoked_by = \(bind: id) ORDER BY guild_id, case_id
                    """).all().map(Self.punishment),
                ticketsOpened: try await database.raw("""
                    SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE opener_id = \(bind: id) ORDER BY guild_id, ticket_number
                    """).all().map(Self.ticket),
                panelChanges: try await database.raw("""
                    SELECT id, guild_id, actor_id, action, before_value, after_value, at FROM panel_audit WHERE actor_id = \(bind: id) ORDER BY id
                    """).all().map(Self.auditEntry))
        }
    }

    /// Deletes everything stored for a guild: configuration, templates, stats, cases, tickets,
    /// counters and its panel audit log. The guild must be registered again to be used.
    @discardableResult
    public func deleteGuildData(_ guild: GuildID) async throws(StoreError) -> DeletionReport {
        try StoreSupport.requireValid(guild, "guild")
        return try await transaction { database in
            let id = guild.column
            var report = DeletionReport()
            report.serverUsers = try await Self.delete("server_users", "guild_id = \(bind: id)", database)
            report.templates = try await Self.delete("message_templates", "guild_id = \(bind: id)", database)
            _ = try await Self.delete("punishment_reason_history", "guild_id = \(bind: id)", database)
            report.cases = try await Self.delete("punishments", "guild_id = \(bind: id)", database)
            report.tickets = try await Self.delete("tickets", "guild_id = \(bind: id)", database)
            report.panelAudit = try await Self.delete("panel_audit", "guild_id = \(bind: id)", database)
            _ = try await Self.delete("guild_counters", "guild_id = \(bind: id)", database)
            report.configs = try await Self.delete("guild_config", "guild_id = \(bind: id)", database)
            return report
        }
    }

    /// Deletes a user's own data in every guild: their stats (XP, level, karma, trust, message
    /// count) and the tickets they opened. Moderation cases about them are kept — see
    /// `docs/PRIVACY.md` — and counted in the report.
    @discardableResult
    public func deleteUserData(_ user: UserID) async throws(StoreError) -> DeletionReport {
        try StoreSupport.requireValid(user, "user")
        return try await transaction { database in
            let id = user.column
            var report = DeletionReport()
            report.serverUsers = try await Self.delete("server_users", "user_id = \(bind: id)", database)
            report.tickets = try await Self.delete("tickets", "opener_id = \(bind: id)", database)
            report.casesKept = try await database.raw("SELECT COUNT(*) AS kept FROM punishments WHERE user_id = \(bind: id)")
                .first()?.decode(column: "kept", as: Int.self) ?? 0
            return report
        }
    }

    /// Deletes the matching rows and returns how many there were.
    private static func delete(_ table: String, _ condition: SQLQueryString, _ database: any SQLDatabase) async throws -> Int {
        try await database.raw("DELETE FROM \(ident: table) WHERE \(condition) RETURNING 1 AS deleted").all().count
    }
}
