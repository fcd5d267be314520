public import DiscordModels
public import KamiiStore

/// A privacy request carried out (`kamii data delete`): a guild's or a user's data deleted from
/// the live stats in Redis and from SQL, safe to run while the bot runs.
///
/// Redis goes first, so a checkpoint starting in between finds nothing to write back; then SQL;
/// then, after ``settle``, Redis once more: for a guild the bot was loading from SQL meanwhile (it
/// read the rows before they were deleted and may have written them after the first pass), and
/// for what the bot had buffered but not flushed when the deletion began (it lands within a flush
/// interval, 250 ms by default, and would otherwise start the user's record again). The writers
/// close the rest of the gap themselves: a load that writes after the second pass checks SQL again
/// and takes out what is gone (``StatsFlusher``), and a checkpoint that read records before the
/// first pass finds them gone when it writes trust back, and deletes its rows again
/// (``Checkpointer``).
public struct PrivacyDeletion: Sendable {
    /// What one deletion removed.
    public struct Report: Sendable, Equatable {
        /// Redis's first pass: the guild's keys, or the guilds that held a record of the user.
        public var redis: Int
        /// Redis's second pass, after SQL: the same count again (for a guild, its members hash is
        /// found again: the first pass leaves its batch marker there).
        public var redisAfterSQL: Int
        public var sql: DeletionReport
    }

    public let store: KamiiStore
    /// The live stats; nil when the deployment has none (SQL only).
    public let stats: StatsPurge?
    /// How long Redis's second pass waits after SQL: longer than a running bot's flush interval.
    public let settle: Duration

    public init(store: KamiiStore, stats: StatsPurge?, settle: Duration = .seconds(1)) {
        self.store = store
        self.stats = stats
        self.settle = settle
    }

    public func delete(_ guild: GuildID) async throws -> Report {
        try await run { try await stats?.purge(guild) ?? 0 } sql: { try await store.deleteGuildData(guild) }
    }

    public func delete(_ user: UserID) async throws -> Report {
        try await run { try await stats?.purge(user) ?? 0 } sql: { try await store.deleteUserData(user) }
    }

    private func run(redis: () async throws -> Int, sql: () async throws -> DeletionReport) async throws -> Report {
        let first = try await redis()
        let rows = try await sql()
        guard stats != nil else { return Report(redis: 0, redisAfterSQL: 0, sql: rows) }
        try await Task.sleep(for: settle)
        return Report(redis: first, redisAfterSQL: try await redis(), sql: rows)
    }
}
