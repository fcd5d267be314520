public import DiscordModels
import Foundation
import SQLKit

extension KamiiStore {
    /// Writes a batch of counters in one transaction, as multi-row upserts of
    /// ``StoreConfiguration/batchRows`` rows each. Values replace what is stored: Redis holds
    /// the truth, SQL is its checkpoint — unless the stored row was read later (``ServerUserStats/asOf``):
    /// a slow writer cannot put back what a later one wrote.
    ///
    /// A member listed twice keeps the later row (PostgreSQL refuses to update one row twice in a
    /// statement, so duplicates are dropped here rather than left to the engine).
    /// - Returns: how many rows were written (inserted or replaced); the others were not, SQL
    ///   holding a later read of them.
    /// - Throws: `invalidInput` or `unknownGuild` before anything is written.
    @discardableResult
    public func upsertServerUsers(_ batch: [ServerUserStats]) async throws(StoreError) -> Int {
        try await upsertServerUsersKeepingLater(batch).written
    }

    /// As ``upsertServerUsers(_:)``; also returns the rows it did not write, SQL holding a later
    /// read of them (a writer whose clock went back must write them again later, or they stay stale).
    public func upsertServerUsersKeepingLater(_ batch: [ServerUserStats]) async throws(StoreError) -> (written: Int, refused: [ServerUserStats]) {
        guard !batch.isEmpty else { return (0, []) }
        for row in batch { try row.validate() }
        var latest: [Pair: Int] = [:]
        for (index, row) in batch.enumerated() { latest[Pair(guild: row.guild, user: row.user)] = index }
        let rows = latest.count == batch.count ? batch : batch.indices.filter { latest[Pair(guild: batch[$0].guild, user: batch[$0].user)] == $0 }.map { batch[$0] }
        let guilds = Array(Set(rows.map(\.guild.column)))
        let batchRows = configuration.batchRows
        let written: Set<Pair> = try await transaction { database in
            let select = database.select().column("guild_id").from("guild_config").where("guild_id", .in, guilds)
            if database.dialect.name == "postgresql" {
                // The guilds' rows locked first (as the foreign-key check would lock them, only at
                // the end): a guild deletion locks its row first too, so the two queue instead of
                // deadlocking over each other's rows, and one that committed first leaves the guild
                // unknown here rather than failing the insert on its foreign key.
                _ = select.lockingClause(SQLRaw("FOR KEY SHARE"))
            }
            let known = try await select.all().map { try $0.decode(column: "guild_id", as: Int64.self) }
            if let missing = Set(guilds).subtracting(known).first {
                throw StoreError(.unknownGuild, "guild \(GuildID(column: missing)) is not registered; nothing was written")
            }
            var written: Set<Pair> = []
            for start in stride(from: 0, to: rows.count, by: batchRows) {
                let insert = database.insert(into: "server_users")
                    .columns(Self.serverUserColumnNames)
                for row in rows[start..<min(start + batchRows, rows.count)] {
                    insert.values(
                        SQLBind(row.guild.column), SQLBind(row.user.column), SQLBind(row.xp), SQLBind(row.level),
                        SQLBind(row.karma), SQLBind(row.trust), SQLBind(row.messageCount), SQLBind(row.xpMessages), SQLBind(row.lastXPAt),
                        SQLBind(row.updatedAt.unixMilliseconds), SQLBind(row.asOf), SQLBind(row.hasAvatar.map { $0 ? 1 : 0 }),
                        SQLBind(row.joinedAt), SQLBind(row.isPending.map { $0 ? 1 : 0 }), SQLBind(row.isVerified.map { $0 ? 1 : 0 }))
                }
                let replaced = try await insert.onConflict(with: ["guild_id", "user_id"]) { update in
                    Self.serverUserColumnNames.dropFirst(2).reduce(update) {
                        $0.set(excludedValueOf: $1)
                    }.where(SQLColumn("as_of", table: "server_users"), .lessThanOrEqual, SQLExcludedColumn("as_of"))
                }.returning("guild_id", "user_id").all()
                for row in replaced {
                    written.insert(Pair(
                        guild: GuildID(column: try row.decode(column: "guild_id", as: Int64.self)),
                        user: UserID(column: try row.decode(column: "user_id", as: Int64.self))))
                }
            }
            return written
        }
        return (written.count, rows.filter { !written.contains(Pair(guild: $0.guild, user: $0.user)) })
    }

    /// One member's counters in one guild.
    public func serverUser(_ user: UserID, in guild: GuildID) async throws(StoreError) -> ServerUserStats? {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users
                WHERE guild_id = \(bind: guild.column) AND user_id = \(bind: user.column)
                """).first().map(ServerUserStats.init(row:))
        }
    }

    /// The guilds where the user has counters (a privacy deletion remembers itself in each, for a
    /// guild Redis does not hold when it runs), in ID order.
    public func guilds(withStatsOf user: UserID) async throws(StoreError) -> [GuildID] {
        try StoreSupport.requireValid(user, "user")
        return try await read { database in
            try await database.raw("""
                SELECT guild_id FROM server_users WHERE user_id = \(bind: user.column) ORDER BY guild_id
                """).all().map { try $0.id("guild_id") }
        }
    }

    /// A page of the guild's leaderboard (page 0 first), highest first; ties by user ID.
    public func leaderboard(
        _ guild: GuildID, by order: LeaderboardOrder = .xp, page: Int = 0, pageSize: Int = 10
    ) async throws(StoreError) -> [ServerUserStats] {
        guard (0...1_000_000).contains(page), (1...100).contains(pageSize) else {
            throw .invalid("leaderboard", "page must be 0–1,000,000 and page size 1–100")
        }
        return try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE guild_id = \(bind: guild.column)
                ORDER BY \(unsafeRaw: order.rawValue) DESC, user_id ASC LIMIT \(bind: pageSize) OFFSET \(bind: page * pageSize)
                """).all().map(ServerUserStats.init(row:))
        }
    }

    /// Every member's counters in one guild, in user order, whole in memory (a guild Redis lost is
    /// rehydrated a page at a time: ``serverUsers(in:after:limit:)``).
    public func serverUsers(in guild: GuildID) async throws(StoreError) -> [ServerUserStats] {
        try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE guild_id = \(bind: guild.column) ORDER BY user_id
                """).all().map(ServerUserStats.init(row:))
        }
    }

    /// Up to `limit` members' counters in one guild, in user order, after `after` (nil: the first):
    /// a guild read a page at a time, never whole in memory.
    public func serverUsers(in guild: GuildID, after: UserID?, limit: Int) async throws(StoreError) -> [ServerUserStats] {
        guard limit > 0 else { return [] }
        // Valid IDs fit the signed BIGINT: its order is theirs.
        let from = after.map(\.column) ?? -1
        return try await read { database in
            try await database.raw("""
                SELECT \(unsafeRaw: Self.serverUserColumns) FROM server_users WHERE guild_id = \(bind: guild.column) AND user_id > \(bind: from)
                ORDER BY user_id LIMIT \(bind: limit)
                """).all().map(ServerUserStats.init(row:))
        }
    }

    /// The member's 1-based rank on the leaderboard, or nil if they have no row.
    public func rank(of user: UserID, in guild: GuildID, by order: LeaderboardOrder = .xp) async throws(StoreError) -> Int? {
        guard let stats = try await serverUser(user, in: guild) else { return nil }
        let value = order == .xp ? stats.xp : stats.karma
        return try await read { database in
            let row = try await database.raw("""
                SELECT COUNT(*) AS ahead FROM server_users WHERE guild_id = \(bind: guild.column)
                AND (\(unsafeRaw: order.rawValue) > \(bind: value) OR (\(unsafeRaw: order.rawValue) = \(bind: value) AND user_id < \(bind: user.column)))
                """).first()
            return try (row?.decode(column: "ahead", as: Int.self) ?? 0) + 1
        }
    }

    /// A `server_users` row's columns: the key (guild, user) first, then what an upsert replaces —
    /// in the order `upsertServerUsers` binds them.
    static let serverUserColumnNames = [
        "guild_id", "user_id", "xp", "level", "karma", "trust", "message_count", "xp_messages", "last_xp_at", "updated_at", "as_of",
        "has_avatar", "joined_at", "pending", "verified",
    ]
    static let serverUserColumns = serverUserColumnNames.joined(separator: ", ")

    /// A member of a guild, for deduplicating a batch.
    private struct Pair: Hashable {
        let guild: GuildID
        let user: UserID
    }
}

extension ServerUserStats {
    /// Stats from a `server_users` row.
    init(row: any SQLRow) throws {
        self.init(
            guild: try row.id("guild_id"),
            user: try row.id("user_id"),
            xp: try row.decode(column: "xp", as: Int64.self),
            level: try row.decode(column: "level", as: Int.self),
            karma: try row.decode(column: "karma", as: Int64.self),
            trust: try row.decode(column: "trust", as: Int.self),
            messageCount: try row.decode(column: "message_count", as: Int64.self),
            xpMessages: try row.decode(column: "xp_messages", as: Int64.self),
            lastXPAt: try row.decode(column: "last_xp_at", as: Int64?.self),
            updatedAt: try row.time("updated_at"),
            asOf: try row.decode(column: "as_of", as: Int64.self),
            hasAvatar: try row.decode(column: "has_avatar", as: Int?.self).map { $0 != 0 },
            joinedAt: try row.decode(column: "joined_at", as: Int64?.self),
            isPending: try row.decode(column: "pending", as: Int?.self).map { $0 != 0 },
            isVerified: try row.decode(column: "verified", as: Int?.self).map { $0 != 0 })
    }
}
