import DiscordModels
import Foundation
import SQLKit

extension Snowflake {
    /// The BIGINT a snowflake is stored as (valid IDs fit in the signed range).
    var column: Int64 { Int64(bitPattern: rawValue) }

    init(column: Int64) { self.init(UInt64(bitPattern: column)) }
}

extension Date {
    /// Times are stored as whole Unix milliseconds; a time past what they hold (hundreds of
    /// millions of years away, or not a number) is held at the end rather than trapping.
    var unixMilliseconds: Int64 {
        let milliseconds = (timeIntervalSince1970 * 1000).rounded()
        guard milliseconds.isFinite else { return milliseconds.isNaN ? 0 : milliseconds > 0 ? .max : .min }
        return milliseconds >= 0x1p63 ? .max : milliseconds < -0x1p63 ? .min : Int64(milliseconds)
    }

    init(unixMilliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMilliseconds) / 1000)
    }

    /// The time as it will read back from the database.
    var storedPrecision: Date { Date(unixMilliseconds: unixMilliseconds) }
}

/// The column form of values, the checks every write starts with, and the statements several
/// repositories share.
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

    /// Checks a text's length in Unicode code points — how Discord counts its limits, and stricter
    /// than counting what a reader sees as characters.
    static func requireText(_ text: String, _ field: String, maxCharacters: Int, allowEmpty: Bool = true) throws(StoreError) {
        let count = text.unicodeScalars.count
        guard allowEmpty || count > 0 else { throw .invalid(field, "must not be empty") }
        guard count <= maxCharacters else { throw .invalid(field, "is \(count) characters, the limit is \(maxCharacters)") }
        guard !text.unicodeScalars.contains(where: { $0.value == 0 }) else { throw .invalid(field, "contains a NUL character") }
    }

    /// ` FOR UPDATE` on PostgreSQL, where a row read before a dependent write must be locked;
    /// nothing on SQLite, whose write transaction already excludes other writers.
    static func forUpdate(_ database: any SQLDatabase) -> SQLQueryString {
        database.dialect.name == "postgresql" ? " FOR UPDATE" : ""
    }

    /// Lifts PostgreSQL's `statement_timeout` for the rest of the caller's transaction: a privacy
    /// export or deletion of a guild of millions is one long statement, and must finish (the
    /// lock timeout still holds: one held behind another session's lock fails, and is run again).
    static func withoutStatementLimit(_ database: any SQLDatabase) async throws {
        guard database.dialect.name == "postgresql" else { return }
        try await database.raw("SET LOCAL statement_timeout = 0").run()
    }

    /// Throws `unknownGuild` unless the guild was registered. With `lock`, holds the guild's row
    /// until the transaction ends, serialising writes that must see each other (template edits).
    /// Without, on PostgreSQL, holds it from being deleted (KEY SHARE, what the foreign-key check of
    /// a row written for the guild takes anyway, only at the end): a guild deletion locks that row
    /// first too, so a writer that locked a counter row first cannot deadlock with it.
    static func requireGuild(_ guild: GuildID, in database: any SQLDatabase, lock: Bool = false) async throws {
        guard try await isRegistered(guild, in: database, lock: lock, keyShare: true) else {
            throw StoreError(.unknownGuild, "guild \(guild) is not registered")
        }
    }

    /// Whether `guild` has a configuration row; with `lock`, that row is locked until the caller's
    /// transaction ends (PostgreSQL; SQLite's writer holds the whole database), with `keyShare`
    /// held from being deleted.
    @discardableResult
    static func isRegistered(_ guild: GuildID, in database: any SQLDatabase, lock: Bool = false, keyShare: Bool = false) async throws -> Bool {
        let postgres = database.dialect.name == "postgresql"
        let clause: SQLQueryString = lock ? forUpdate(database) : keyShare && postgres ? " FOR KEY SHARE" : ""
        return try await database.raw("""
            SELECT guild_id FROM guild_config WHERE guild_id = \(bind: guild.column)\(clause)
            """).first() != nil
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

}

/// Reading Kamii's column representations back.
extension SQLRow {
    func id<Tag>(_ column: String) throws -> Snowflake<Tag> {
        Snowflake(column: try decode(column: column, as: Int64.self))
    }

    func optionalID<Tag>(_ column: String) throws -> Snowflake<Tag>? {
        try decodeNil(column: column) ? nil : id(column)
    }

    func time(_ column: String) throws -> Date {
        Date(unixMilliseconds: try decode(column: column, as: Int64.self))
    }

    func optionalTime(_ column: String) throws -> Date? {
        try decodeNil(column: column) ? nil : time(column)
    }
}
