public import DiscordModels
public import Foundation
import SQLKit

/// A guild's configuration as stored, with the revision the panel sends back to detect a
/// concurrent edit.
public struct StoredGuildConfig: Sendable, Equatable {
    public let guild: GuildID
    public let config: GuildConfig
    /// Increases by one with every change.
    public let revision: Int64
    /// When the configuration last changed.
    public let updatedAt: Date
}

/// A guild whose configuration was saved: which revision, and when (Unix milliseconds, the
/// writer's clock).
public struct GuildConfigChange: Sendable, Equatable {
    public let guild: GuildID
    public let revision: Int64
    public let updatedAt: Int64
}

/// One row of the panel audit log: who changed what, when, from what to what.
public struct PanelAuditEntry: Codable, Sendable, Equatable {
    /// Increasing in the order the changes were made.
    public let id: Int64
    public let guild: GuildID
    /// The admin who made the change.
    public let actor: UserID
    /// What changed: `config.update`, `template.welcome`, …
    public let action: String
    /// The JSON before and after the change (nil where there was none).
    public let before: String?
    public let after: String?
    public let at: Date
}

extension KamiiStore {
    /// Makes a guild known to the store, with the default configuration, when the bot joins it.
    /// Idempotent: an existing guild keeps its configuration.
    public func registerGuild(_ guild: GuildID, at time: Date = Date()) async throws(StoreError) {
        try StoreSupport.requireValid(guild, "guild")
        let settings: String
        do { settings = try StoreSupport.json(GuildConfig()) } catch { throw Self.storeError(error) }
        try await transaction { database in
            try await database.raw("""
                INSERT INTO guild_config (guild_id, settings, revision, created_at, updated_at)
                VALUES (\(bind: guild.column), \(bind: settings), 1, \(bind: time.unixMilliseconds), \(bind: time.unixMilliseconds))
                ON CONFLICT (guild_id) DO NOTHING
                """).run()
        }
    }

    /// The guild's configuration, or nil for a guild never registered.
    public func guildConfig(_ guild: GuildID) async throws(StoreError) -> StoredGuildConfig? {
        try await read { database in try await Self.loadConfig(guild, in: database) }
    }

    /// Replaces the guild's configuration and writes a panel-audit row in the same transaction.
    ///
    /// - Parameter expectedRevision: the revision the editor started from; if another edit landed
    ///   since, nothing is written and the error is `conflict` (pass nil to overwrite unconditionally).
    /// - Returns: the stored configuration with its new revision.
    @discardableResult
    public func putGuildConfig(
        _ config: GuildConfig, for guild: GuildID, by actor: UserID, expectedRevision: Int64? = nil, at time: Date = Date()
    ) async throws(StoreError) -> StoredGuildConfig {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(actor, "actor")
        try config.validate()
        let after: String
        do { after = try StoreSupport.json(config) } catch { throw Self.storeError(error) }
        return try await transaction { database in
            // The stored text as it is, not decoded: a configuration this binary cannot read (written
            // by another build, or by hand) must still be replaceable by a valid one.
            guard let current = try await database.raw("""
                SELECT settings, revision FROM guild_config WHERE guild_id = \(bind: guild.column)\(StoreSupport.forUpdate(database))
                """).first().map({ (settings: try $0.decode(column: "settings", as: String.self), revision: try $0.decode(column: "revision", as: Int64.self)) })
            else {
                throw StoreError(.unknownGuild, "guild \(guild) is not registered")
            }
            if let expectedRevision, expectedRevision != current.revision {
                throw StoreError(.conflict, "the configuration changed since revision \(expectedRevision) (now \(current.revision)); reload and edit again")
            }
            let (revision, overflow) = current.revision.addingReportingOverflow(1)
            guard !overflow else { throw StoreError(.database, "guild \(guild)'s configuration is at revision \(current.revision), the last there is") }
            try await database.raw("""
                UPDATE guild_config SET settings = \(bind: after), revision = \(bind: revision), updated_at = \(bind: time.unixMilliseconds)
                WHERE guild_id = \(bind: guild.column)
                """).run()
            try await Self.audit(guild, actor: actor, action: "config.update", before: current.settings, after: after, at: time, in: database)
            return StoredGuildConfig(guild: guild, config: config, revision: revision, updatedAt: time.storedPrecision)
        }
    }

    /// The configurations saved at or after `since` (Unix milliseconds), in the order of their
    /// time and then guild, at most `limit`. With `after`, the page that follows the one ending
    /// with that guild saved at `since`. What a running bot polls to pick up what admins change
    /// (`GuildSettingsWatcher`).
    public func guildConfigChanges(since: Int64, after: GuildID? = nil, limit: Int = 10_000) async throws(StoreError) -> [GuildConfigChange] {
        let condition: SQLQueryString = if let after {
            "updated_at > \(bind: since) OR (updated_at = \(bind: since) AND guild_id > \(bind: after.column))"
        } else {
            "updated_at >= \(bind: since)"
        }
        return try await read { database in
            try await database.raw("""
                SELECT guild_id, revision, updated_at FROM guild_config WHERE \(condition)
                ORDER BY updated_at, guild_id LIMIT \(bind: max(1, limit))
                """).all().map { row in
                    GuildConfigChange(
                        guild: GuildID(column: try row.decode(column: "guild_id", as: Int64.self)),
                        revision: try row.decode(column: "revision", as: Int64.self),
                        updatedAt: try row.decode(column: "updated_at", as: Int64.self))
                }
        }
    }

    /// When the newest configuration was saved (Unix milliseconds); nil when no guild is registered.
    public func latestConfigChange() async throws(StoreError) -> Int64? {
        try await read { database in
            try await database.raw("SELECT MAX(updated_at) AS latest FROM guild_config").first()?
                .decode(column: "latest", as: Int64?.self)
        }
    }

    /// The guild's panel audit log, newest first.
    public func panelAudit(_ guild: GuildID, limit: Int = 100) async throws(StoreError) -> [PanelAuditEntry] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.auditColumns) FROM panel_audit
                WHERE guild_id = \(bind: guild.column) ORDER BY id DESC LIMIT \(bind: max(0, limit))
                """).all().map(PanelAuditEntry.init(row:))
        }
    }

    static func audit(
        _ guild: GuildID, actor: UserID, action: String, before: String?, after: String?, at time: Date, in database: any SQLDatabase
    ) async throws {
        try await database.raw("""
            INSERT INTO panel_audit (guild_id, actor_id, action, before_value, after_value, at)
            VALUES (\(bind: guild.column), \(bind: actor.column), \(bind: action), \(bind: before), \(bind: after), \(bind: time.unixMilliseconds))
            """).run()
    }

    static let auditColumns = "id, guild_id, actor_id, action, before_value, after_value, at"

    static func loadConfig(_ guild: GuildID, in database: any SQLDatabase) async throws -> StoredGuildConfig? {
        guard let row = try await database.raw("""
            SELECT settings, revision, updated_at FROM guild_config WHERE guild_id = \(bind: guild.column)
            """).first()
        else { return nil }
        return StoredGuildConfig(
            guild: guild,
            config: try StoreSupport.decode(GuildConfig.self, json: row.decode(column: "settings", as: String.self)),
            revision: try row.decode(column: "revision", as: Int64.self),
            updatedAt: try row.time("updated_at"))
    }
}

extension PanelAuditEntry {
    /// An entry from a `panel_audit` row.
    init(row: any SQLRow) throws {
        self.init(
            id: try row.decode(column: "id", as: Int64.self),
            guild: try row.id("guild_id"),
            actor: try row.id("actor_id"),
            action: try row.decode(column: "action", as: String.self),
            before: try row.decode(column: "before_value", as: String?.self),
            after: try row.decode(column: "after_value", as: String?.self),
            at: try row.time("at"))
    }
}
