public import DiscordModels
public import Foundation
import SQLKit

/// The privacy promises: a guild's or a user's data can be exported and deleted on request.
/// What is kept after a user's deletion, and why, is in `docs/PRIVACY.md`.
extension KamiiStore {
    /// Everything stored for a guild, read from one snapshot so the parts agree.
    public func exportGuild(_ guild: GuildID, at time: Date = Date()) async throws(StoreError) -> GuildDataExport {
        try StoreSupport.requireValid(guild, "guild")
        return try await snapshot { database in
            try await StoreSupport.withoutStatementLimit(database)
            let id = guild.column
            let stored = try await database.raw("SELECT settings, revision FROM guild_config WHERE guild_id = \(bind: id)").first()
            let settings = try stored?.decode(column: "settings", as: String.self)
            let config = settings.flatMap { try? StoreSupport.decode(GuildConfig.self, json: $0) }
            var templates: [String: MessageTemplate] = [:]
            for row in try await database.raw("SELECT kind, content, embed FROM message_templates WHERE guild_id = \(bind: id)").all() {
                templates[try row.decode(column: "kind", as: String.self)] = try MessageTemplate(row: row)
            }
            let punishments = try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments WHERE guild_id = \(bind: id) ORDER BY case_id
                """).all().map(Punishment.init(row:))
            let history = try await database.raw("""
                SELECT \(unsafeRaw: Self.revisionColumns) FROM punishment_reason_history WHERE guild_id = \(bind: id) ORDER BY case_id, revision
                """).all().map(ReasonRevision.init(row:))
            return GuildDataExport(
                guild: guild, exportedAt: time.storedPrecision, config: config, configRevision: try stored?.decode(column: "revision", as: Int64.self),
                unreadableConfig: config == nil ? settings : nil, templates: templates,
                serverUsers: try await database.raw("""
                    SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE guild_id = \(bind: id) ORDER BY user_id
                    """).all().map(ServerUserStats.init(row:)),
                cases: Self.records(punishments, history),
                tickets: try await database.raw("""
                    SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE guild_id = \(bind: id) ORDER BY ticket_number
                    """).all().map(Ticket.init(row:)),
                panelAudit: try await database.raw("""
                    SELECT \(unsafeRaw: Self.auditColumns) FROM panel_audit WHERE guild_id = \(bind: id) ORDER BY id
                    """).all().map(PanelAuditEntry.init(row:)),
                counters: try await database.raw("SELECT counter, value FROM guild_counters WHERE guild_id = \(bind: id)").all()
                    .reduce(into: [:]) { counters, row in
                        counters[try row.decode(column: "counter", as: String.self)] = try row.decode(column: "value", as: Int64.self)
                    })
        }
    }

    /// Every row that names the user, in any guild, read from one snapshot.
    public func exportUser(_ user: UserID, at time: Date = Date()) async throws(StoreError) -> UserDataExport {
        try StoreSupport.requireValid(user, "user")
        return try await snapshot { database in
            try await StoreSupport.withoutStatementLimit(database)
            let id = user.column
            let about = try await database.raw("""
                SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments WHERE user_id = \(bind: id) ORDER BY guild_id, case_id
                """).all().map(Punishment.init(row:))
            let historyOfAbout = try await database.raw("""
                SELECT \(unsafeRaw: Self.revisionColumns) FROM punishment_reason_history h
                WHERE EXISTS (SELECT 1 FROM punishments p WHERE p.guild_id = h.guild_id AND p.case_id = h.case_id AND p.user_id = \(bind: id))
                ORDER BY guild_id, case_id, revision
                """).all().map(ReasonRevision.init(row:))
            return UserDataExport(
                user: user, exportedAt: time.storedPrecision,
                serverUsers: try await database.raw("""
                    SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE user_id = \(bind: id) ORDER BY guild_id
                    """).all().map(ServerUserStats.init(row:)),
                casesAbout: Self.records(about, historyOfAbout),
                casesAsModerator: try await database.raw("""
                    SELECT \(unsafeRaw: Self.punishmentColumns) FROM punishments
                    WHERE moderator_id = \(bind: id) OR revoked_by = \(bind: id) ORDER BY guild_id, case_id
                    """).all().map(Punishment.init(row:)),
                reasonEdits: try await database.raw("""
                    SELECT \(unsafeRaw: Self.revisionColumns) FROM punishment_reason_history WHERE replaced_by = \(bind: id)
                    ORDER BY guild_id, case_id, revision
                    """).all().map(ReasonRevision.init(row:)),
                ticketsOpened: try await database.raw("""
                    SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE opener_id = \(bind: id) ORDER BY guild_id, ticket_number
                    """).all().map(Ticket.init(row:)),
                ticketsHandled: try await database.raw("""
                    SELECT \(unsafeRaw: Self.ticketColumns) FROM tickets WHERE claimed_by = \(bind: id) OR closed_by = \(bind: id)
                    ORDER BY guild_id, ticket_number
                    """).all().map(Ticket.init(row:)),
                templatesEdited: try await database.raw("""
                    SELECT guild_id, kind, updated_at FROM message_templates WHERE updated_by = \(bind: id) ORDER BY guild_id, kind
                    """).all().map { row in
                    TemplateEdit(
                        guild: try row.id("guild_id"), kind: try row.decode(column: "kind", as: String.self),
                        editedAt: try row.time("updated_at"))
                },
                panelChanges: try await database.raw("""
                    SELECT \(unsafeRaw: Self.auditColumns) FROM panel_audit WHERE actor_id = \(bind: id) ORDER BY id
                    """).all().map(PanelAuditEntry.init(row:)))
        }
    }

    /// Deletes everything stored for a guild: configuration, templates, stats, cases, tickets,
    /// counters and its panel audit log. The guild must be registered again to be used.
    @discardableResult
    public func deleteGuildData(_ guild: GuildID) async throws(StoreError) -> DeletionReport {
        try StoreSupport.requireValid(guild, "guild")
        return try await transaction { database in
            try await StoreSupport.withoutStatementLimit(database)
            let condition: SQLQueryString = "guild_id = \(bind: guild.column)"
            // The guild's row first, locked: an edit holding it (its audit row written, not yet
            // committed) ends before the deletes look. Else PostgreSQL's DELETE misses that row,
            // and panel_audit, unlike the tables that cascade from guild_config, keeps it.
            try await StoreSupport.isRegistered(guild, in: database, lock: true)
            var report = DeletionReport()
            report.serverUsers = try await Self.delete("server_users", condition, database)
            report.templates = try await Self.delete("message_templates", condition, database)
            _ = try await Self.delete("punishment_reason_history", condition, database)
            report.cases = try await Self.delete("punishments", condition, database)
            report.tickets = try await Self.delete("tickets", condition, database)
            report.panelAudit = try await Self.delete("panel_audit", condition, database)
            _ = try await Self.delete("guild_counters", condition, database)
            report.configs = try await Self.delete("guild_config", condition, database)
            return report
        }
    }

    /// Deletes a user's own data in every guild: their stats (XP, level, karma, trust, message
    /// count) and the tickets they opened. Moderation cases about them, and records of what they did
    /// as staff, are kept — see `docs/PRIVACY.md` — and the cases about them are counted in the report.
    @discardableResult
    public func deleteUserData(_ user: UserID) async throws(StoreError) -> DeletionReport {
        try StoreSupport.requireValid(user, "user")
        return try await transaction { database in
            try await StoreSupport.withoutStatementLimit(database)
            let id = user.column
            var report = DeletionReport()
            report.serverUsers = try await Self.delete("server_users", "user_id = \(bind: id)", database)
            report.tickets = try await Self.delete("tickets", "opener_id = \(bind: id)", database)
            report.casesKept = try await Self.count("punishments", "user_id = \(bind: id)", database)
            return report
        }
    }

    /// Deletes the named members' stats rows in one guild; returns how many there were. For a
    /// write that raced a deletion: a checkpoint that read a member from Redis before their data
    /// was deleted, and wrote them to SQL after.
    @discardableResult
    public func deleteServerUsers(_ users: [UserID], in guild: GuildID) async throws(StoreError) -> Int {
        try await deleteServerUsers(users.map { ($0, Int64.max) }, in: guild)
    }

    /// Deletes the named members' stats rows in one guild whose read (`as_of`, Redis's clock, Unix
    /// ms) is at or before each one's bound; returns how many there were. For a deletion found
    /// later: a row read after it holds what the member did since, and stays.
    @discardableResult
    public func deleteServerUsers(
        _ reads: [(user: UserID, readNoLaterThan: Int64)], in guild: GuildID
    ) async throws(StoreError) -> Int {
        try StoreSupport.requireValid(guild, "guild")
        guard !reads.isEmpty else { return 0 }
        for read in reads { try StoreSupport.requireValid(read.user, "user") }
        return try await transaction { database in
            var deleted = 0
            for start in stride(from: 0, to: reads.count, by: 250) {
                let each = reads[start..<min(start + 250, reads.count)].map {
                    "(user_id = \(bind: $0.user.column) AND as_of <= \(bind: $0.readNoLaterThan))" as SQLQueryString
                }
                deleted += try await Self.delete(
                    "server_users", "guild_id = \(bind: guild.column) AND (" + each.joined(separator: " OR ") + ")", database)
            }
            return deleted
        }
    }

    private static func records(_ punishments: [Punishment], _ history: [ReasonRevision]) -> [CaseRecord] {
        let byCase = Dictionary(grouping: history) { "\($0.guild):\($0.caseID)" }
        return punishments.map { CaseRecord(punishment: $0, reasonHistory: byCase["\($0.guild):\($0.caseID)"] ?? []) }
    }

    /// Deletes the matching rows and returns how many it deleted. On PostgreSQL that is one
    /// statement: a count before the delete can differ from it, since another transaction may
    /// commit a matching row (or remove one) in between, and the report would tell a user about
    /// rows that were not deleted. SQLite runs one write transaction at a time, so there the count
    /// is what the delete removes.
    private static func delete(_ table: String, _ condition: SQLQueryString, _ database: any SQLDatabase) async throws -> Int {
        if database.dialect.name == "postgresql" {
            return try await database.raw("""
                WITH gone AS (DELETE FROM \(ident: table) WHERE \(condition) RETURNING 1) SELECT COUNT(*) AS matching FROM gone
                """).first()?.decode(column: "matching", as: Int.self) ?? 0
        }
        let count = try await count(table, condition, database)
        if count > 0 {
            try await database.raw("DELETE FROM \(ident: table) WHERE \(condition)").run()
        }
        return count
    }

    private static func count(_ table: String, _ condition: SQLQueryString, _ database: any SQLDatabase) async throws -> Int {
        try await database.raw("SELECT COUNT(*) AS matching FROM \(ident: table) WHERE \(condition)").first()?
            .decode(column: "matching", as: Int.self) ?? 0
    }
}
