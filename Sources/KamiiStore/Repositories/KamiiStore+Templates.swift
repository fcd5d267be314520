public import DiscordModels
public import Foundation
import SQLKit

extension KamiiStore {
    /// The guild's template for `kind`, or nil when the admin has not written one.
    public func template(_ kind: MessageTemplate.Kind, for guild: GuildID) async throws(StoreError) -> MessageTemplate? {
        try await read { database in
            guard let row = try await database.raw("""
                SELECT content, embed FROM message_templates WHERE guild_id = \(bind: guild.column) AND kind = \(bind: kind.rawValue)
                """).first()
            else { return nil }
            return try MessageTemplate(row: row)
        }
    }

    /// Every template the guild has, by kind.
    public func templates(for guild: GuildID) async throws(StoreError) -> [MessageTemplate.Kind: MessageTemplate] {
        try await read { database in
            var templates: [MessageTemplate.Kind: MessageTemplate] = [:]
            for row in try await database.raw("SELECT kind, content, embed FROM message_templates WHERE guild_id = \(bind: guild.column)").all() {
                guard let kind = MessageTemplate.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else { continue }
                templates[kind] = try MessageTemplate(row: row)
            }
            return templates
        }
    }

    /// Writes the guild's template for `kind` and a panel-audit row in one transaction.
    public func putTemplate(
        _ template: MessageTemplate, _ kind: MessageTemplate.Kind, for guild: GuildID, by actor: UserID, at time: Date = Date()
    ) async throws(StoreError) {
        try StoreSupport.requireValid(guild, "guild")
        try StoreSupport.requireValid(actor, "actor")
        try template.validate()
        let embed: String?
        let after: String
        do {
            embed = try template.embed.map(StoreSupport.json)
            after = try StoreSupport.json(template)
        } catch { throw Self.storeError(error) }
        try await transaction { database in
            // Locking the guild serialises edits, so the audit row's "before" is what this edit replaced.
            try await StoreSupport.requireGuild(guild, in: database, lock: true)
            let before = try await database.raw("""
                SELECT content, embed FROM message_templates WHERE guild_id = \(bind: guild.column) AND kind = \(bind: kind.rawValue)
                """).first().map { try StoreSupport.json(try MessageTemplate(row: $0)) }
            try await database.raw("""
                INSERT INTO message_templates (guild_id, kind, content, embed, updated_by, updated_at)
                VALUES (\(bind: guild.column), \(bind: kind.rawValue), \(bind: template.content), \(bind: embed), \(bind: actor.column), \(bind: time.unixMilliseconds))
                ON CONFLICT (guild_id, kind) DO UPDATE SET content = excluded.content, embed = excluded.embed,
                    updated_by = excluded.updated_by, updated_at = excluded.updated_at
                """).run()
            try await Self.audit(guild, actor: actor, action: "template.\(kind.rawValue)", before: before, after: after, at: time, in: database)
        }
    }
}

extension MessageTemplate {
    /// A template from a `message_templates` row.
    init(row: any SQLRow) throws {
        self.init(
            content: try row.decode(column: "content", as: String.self),
            embed: try row.decode(column: "embed", as: String?.self).map { try StoreSupport.decode(MessageTemplate.Embed.self, json: $0) })
    }
}
