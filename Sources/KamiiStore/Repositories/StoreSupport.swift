import DiscordModels
import Foundation
import SQLKit

/// The column form of IDs and times, and the checks every guild-scoped write starts with.
extension Snowflake {
    /// The BIGINT a snowflake is stored as (valid IDs fit in the signed range).
    var column: Int64 { Int64(bitPattern: rawValue) }

    init(column: Int64) { self.init(UInt64(bitPattern: column)) }
}

enum StoreSupport {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, json: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(json.utf8))
    }

    static func requireValid<Tag>(_ id: Snowflake<Tag>, _ field: String) throws(StoreError) {
        guard id.isValid else { throw .invalid(field, "\(id) is not a Discord ID") }
    }

    static func requireText(_ text: String, _ field: String, maxCharacters: Int, allowEmpty: Bool = true) throws(StoreError) {
        guard allowEmpty || !text.isEmpty else { throw .invalid(field, "must not be empty") }
        guard text.count <= maxCharacters else { throw .invalid(field, "is \(text.count) characters, the limit is \(maxCharacters)") }
        guard !text.unicodeScalars.contains(where: { $0.value == 0 }) else { throw .invalid(field, "contains a NUL character") }
    }

    /// Throws `unknownGuild` unless the guild was registered.
    static func requireGuild(_ guild: GuildID, in database: any SQLDatabase) async throws {
        let row = try await database.raw("SELECT guild_id FROM guild_config WHERE guild_id = \(bind: guild.column)").first()
        guard row != nil else { throw StoreError(.unknownGuild, "guild \(guild) is not registered") }
    }

    /// Takes the next number of a per-guild counter inside the caller's transaction: concurrent
    /// callers queue on the counter row, and a rolled-back transaction gives its number back.
    static func nextNumber(_ counter: String, guild: GuildID, in database: any SQLDatabase) async throws -> Int64 {
        let row = try await database.raw("""
            INSERT INTO guild_counters (guild_id, counter, value) VALUES (\(bind: guild.column), \(bind: counter), 1)
            ON CONFLICT (guild_id, counter) DO UPDATE SET value = guild_counters.value + 1
            RETURNING value
            """).first()
        guard let row else { throw StoreError(.database, "the \(counter) counter returned no row") }
        return try row.decode(column: "value", as: Int64.self)
    }

    static func optionalDate(_ row: any SQLRow, _ column: String) throws -> Date? {
        try row.decodeNil(column: column) ? nil : Date(unixMilliseconds: row.decode(column: column, as: Int64.self))
    }

    static func optionalID<Tag>(_ row: any SQLRow, _ column: String) throws -> Snowflake<Tag>? {
        try row.decodeNil(column: column) ? nil : Snowflake(column: row.decode(column: column, as: Int64.self))
    }
}
