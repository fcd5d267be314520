public import DiscordModels
public import KamiiStore

/// A privacy request carried out (`kamii data delete`): a guild's or a user's data deleted from
/// the live stats in Redis and from SQL, safe to run while the bot runs.
///
/// Redis goes first, so a checkpoint starting in between finds nothing to write back; then SQL;
/// then, after ``settle``, Redis once more and SQL once more. The second Redis pass takes a guild the
/// bot loaded from SQL meanwhile; the second SQL pass takes rows a checkpoint that read before the
/// first pass wrote back after the first delete. Redis remembers each deletion for a day
/// (``StatsKeys/deletions(in:)``), and the writers close the rest of the gap themselves: a flush
/// leaves out the changes of a member (or guild) deleted after its changes' take began (or a late
/// message was sent), however long it was held up within the day the deletion is remembered
/// (``StatsFlushScript``); a load that writes after
/// the second pass checks SQL again and takes out what is gone (``StatsFlusher``); and a
/// checkpoint that writes after the second SQL pass finds the records gone and the deletion
/// remembered after its read, and deletes its rows again (``Checkpointer``) — or, had it died
/// first, the next checkpoint does, the members still marked and their deletion remembered.
///
/// A guild Redis has lost (or is loading from SQL) holds no record of the user to delete, so the
/// deletion is remembered there anyway — in each such guild Redis has a members hash for, and in each
/// where SQL holds the user's counters — or the changes the bot holds until the guild is loaded
/// would start their record again.
///
/// Not covered: a user with nothing in a guild yet (their first changes there still buffered)
/// leaves nothing there to remember the deletion by; changes of theirs held past ``settle`` start a
/// record there, or put their reactions in the ledger. And reactions and member events carry no
/// time of their own: replayed to a bot that restarted, those from before the deletion count
/// (messages are judged by when they were sent too). Run the deletion again once the bot is
/// flushing.
public struct PrivacyDeletion: Sendable {
    /// What one deletion removed.
    public struct Report: Sendable, Equatable {
        /// Redis's first pass: the guild's keys, or the guilds that held a record of the user.
        public var redis: Int
        /// Redis's second pass, after SQL: the same count again (for a guild, its members hash is
        /// found again: the first pass leaves its batch marker there).
        public var redisAfterSQL: Int
        /// Rows deleted from SQL, both passes together.
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
        // Where SQL holds their counters: a guild Redis has lost (or is loading) is remembered too.
        let withStats = stats == nil ? [] : try await store.guilds(withStatsOf: user)
        return try await run { try await stats?.purge(user, rememberingIn: withStats) ?? 0 } sql: { try await store.deleteUserData(user) }
    }

    private func run(redis: () async throws -> Int, sql: () async throws -> DeletionReport) async throws -> Report {
        let first = try await redis()
        var rows = try await sql()
        guard stats != nil else { return Report(redis: 0, redisAfterSQL: 0, sql: rows) }
        try await Task.sleep(for: settle)
        let second = try await redis()
        rows.addDeleted(try await sql())
        return Report(redis: first, redisAfterSQL: second, sql: rows)
    }
}
