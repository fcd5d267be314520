import DiscordModels
import Foundation
import Testing
@testable import KamiiStore

@Suite struct ServerUsersTests {
    static func stats(_ guild: GuildID, _ user: UInt64, xp: Int64, karma: Int64 = 0, trust: Int = 50) -> ServerUserStats {
        ServerUserStats(guild: guild, user: IDs.user(user), xp: xp, level: Int(xp / 100), karma: karma, trust: trust,
                        messageCount: xp / 20, updatedAt: IDs.time)
    }

    /// A row read from Redis later is not replaced by one read earlier (two checkpointers, the
    /// earlier one slower to write); rows written without a read time are replaced by any.
    @Test(arguments: TestEngine.available)
    func anEarlierReadDoesNotReplaceALaterOne(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(4)
            try await store.registerGuild(guild)
            func row(xp: Int64, asOf: Int64) -> ServerUserStats {
                var row = Self.stats(guild, 1, xp: xp)
                row.asOf = asOf
                return row
            }
            try await store.upsertServerUsers([Self.stats(guild, 1, xp: 10)])
            try await store.upsertServerUsers([row(xp: 101, asOf: 2_000)])
            #expect(try await store.serverUser(IDs.user(1), in: guild)?.xp == 101, "a versioned read replaces an unversioned row")
            #expect(try await store.upsertServerUsers([row(xp: 100, asOf: 1_000)]) == 0, "none written")
            #expect(try await store.serverUser(IDs.user(1), in: guild) == row(xp: 101, asOf: 2_000), "the earlier read changed nothing")
            #expect(try await store.upsertServerUsers([row(xp: 102, asOf: 2_000), Self.stats(guild, 2, xp: 7)]) == 2, "replaced and inserted")
            #expect(try await store.serverUser(IDs.user(1), in: guild)?.xp == 102, "a read as late replaces it")
            #expect(try await store.serverUser(IDs.user(2), in: guild)?.xp == 7)
        }
    }

    /// The largest batch the configuration accepts fits one statement of either engine.
    @Test(arguments: TestEngine.available)
    func theLargestBatchAllowedFitsOneStatement(_ engine: TestEngine) async throws {
        try await withStore(engine, batchRows: StoreConfiguration.maxBatchRows) { store in
            let guild = IDs.guild(3)
            try await store.registerGuild(guild)
            let rows = (1...StoreConfiguration.maxBatchRows + 5).map { Self.stats(guild, UInt64($0), xp: Int64($0)) }
            try await store.upsertServerUsers(rows)
            #expect(try await store.serverUser(IDs.user(UInt64(StoreConfiguration.maxBatchRows)), in: guild) == rows[StoreConfiguration.maxBatchRows - 1])
        }
    }

    @Test(arguments: TestEngine.available)
    func batchesLargerThanOneStatementAreUpsertedAndReadBack(_ engine: TestEngine) async throws {
        try await withStore(engine, batchRows: 400) { store in
            let guild = IDs.guild(1)
            let other = IDs.guild(2)
            try await store.registerGuild(guild)
            try await store.registerGuild(other)
            let rows = (1...2_500).map { Self.stats(guild, $0, xp: Int64($0) * 10, karma: Int64($0 % 7)) }
            try await store.upsertServerUsers(rows + [Self.stats(other, 1, xp: 99_999)])
            #expect(try await store.serverUser(IDs.user(1_234), in: guild) == rows[1_233])

            // A second checkpoint replaces values rather than adding to them.
            let updated = (1...1_000).map { Self.stats(guild, $0, xp: 1_000_000 + Int64($0), trust: 90) }
            try await store.upsertServerUsers(updated)
            #expect(try await store.serverUser(IDs.user(7), in: guild) == updated[6])
            #expect(try await store.serverUser(IDs.user(2_000), in: guild) == rows[1_999])

            let top = try await store.leaderboard(guild, by: .xp, page: 0, pageSize: 3)
            #expect(top.map(\.user) == [IDs.user(1_000), IDs.user(999), IDs.user(998)])
            let second = try await store.leaderboard(guild, by: .xp, page: 1, pageSize: 3)
            #expect(second.map(\.user) == [IDs.user(997), IDs.user(996), IDs.user(995)])
            #expect(try await store.rank(of: IDs.user(1_000), in: guild) == 1)
            #expect(try await store.rank(of: IDs.user(2_500), in: guild) == 1_001)
            #expect(try await store.rank(of: IDs.user(1), in: other) == 1)
            #expect(try await store.rank(of: IDs.user(9_999), in: guild) == nil)
        }
    }

    @Test(arguments: TestEngine.available)
    func aMemberListedTwiceInOneBatchKeepsTheLaterRow(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            try await store.upsertServerUsers([Self.stats(guild, 1, xp: 10), Self.stats(guild, 2, xp: 20), Self.stats(guild, 1, xp: 30)])
            #expect(try await store.serverUser(IDs.user(1), in: guild)?.xp == 30)
            #expect(try await store.serverUser(IDs.user(2), in: guild)?.xp == 20)
        }
    }

    @Test(arguments: TestEngine.available)
    func karmaTiesAreBrokenByUserID(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            try await store.upsertServerUsers([3, 1, 2].map { Self.stats(guild, $0, xp: 0, karma: 5) })
            let board = try await store.leaderboard(guild, by: .karma)
            #expect(board.map(\.user) == [IDs.user(1), IDs.user(2), IDs.user(3)])
            #expect(try await store.rank(of: IDs.user(3), in: guild, by: .karma) == 3)
        }
    }

    @Test(arguments: TestEngine.available)
    func aBadRowOrAnUnknownGuildWritesNothing(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let good = (1...10).map { Self.stats(guild, $0, xp: 5) }
            await expectStoreError(.invalidInput) { try await store.upsertServerUsers(good + [Self.stats(guild, 11, xp: 5, trust: 101)]) }
            await expectStoreError(.invalidInput) { try await store.upsertServerUsers(good + [Self.stats(guild, 11, xp: -5)]) }
            await expectStoreError(.invalidInput) {
                try await store.upsertServerUsers([ServerUserStats(guild: guild, user: UserID(0), xp: 1, level: 0, karma: 0, trust: 0, messageCount: 0, updatedAt: IDs.time)])
            }
            await expectStoreError(.unknownGuild) { try await store.upsertServerUsers(good + [Self.stats(IDs.guild(404), 1, xp: 5)]) }
            #expect(try await store.leaderboard(guild).isEmpty)
            await expectStoreError(.invalidInput) { try await store.leaderboard(guild, pageSize: 0) }
            await expectStoreError(.invalidInput) { try await store.leaderboard(guild, page: Int.max / 2) }
        }
    }

    /// On PostgreSQL an upsert holds its guilds' rows (KEY SHARE) before touching any member's: a
    /// guild deletion, which locks the guild's row first and then deletes its members', queues
    /// behind it or ahead of it. Taken only by the foreign-key check at the statement's end, the
    /// upsert held members' rows the deletion waited on while it waited on the deletion's guild
    /// row — a deadlock, PostgreSQL aborting one of the two.
    @Test(.enabled(if: TestEngine.available.contains(.postgres)))
    func anUpsertTakesItsGuildsRowsBeforeItsMembers() async throws {
        try await withStore(.postgres, maxConnections: 4) { store in
            let guild = IDs.guild(7)
            try await store.registerGuild(guild)
            try await store.upsertServerUsers([Self.stats(guild, 1, xp: 10)])
            // Another session holds the guild's row, as a deletion does before its deletes.
            let (held, holding) = AsyncStream.makeStream(of: Int.self)
            let (release, releasing) = AsyncStream.makeStream(of: Void.self)
            let holder = Task {
                try await store.transaction { database in
                    try await database.raw("SELECT guild_id FROM guild_config WHERE guild_id = \(bind: guild.column) FOR UPDATE").run()
                    holding.yield(try await database.raw("SELECT pg_backend_pid() AS pid").first()?.decode(column: "pid", as: Int.self) ?? -1)
                    for await _ in release { break }
                }
            }
            // Released however the test ends (its schema is dropped afterwards, behind this lock).
            defer { releasing.yield() }
            var heldBy = -1
            for await pid in held {
                heldBy = pid
                break
            }
            let holderPID = heldBy
            // An existing member (an update) and a new one (an insert, whose foreign key is checked).
            let upsert = Task { try await store.upsertServerUsersKeepingLater([Self.stats(guild, 1, xp: 20), Self.stats(guild, 2, xp: 5)]) }
            // Until the upsert waits on the holder (on the guild's row now; at its foreign-key check,
            // after locking the member's row, without the fix).
            var waiting = false
            for _ in 0..<200 where !waiting {
                waiting = try await store.read { database in
                    try await database.raw("""
                        SELECT count(*)::int AS n FROM pg_stat_activity WHERE \(bind: holderPID) = ANY(pg_blocking_pids(pid))
                        """).first()?.decode(column: "n", as: Int.self) ?? 0
                } > 0
                if !waiting { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(waiting, "the upsert waits on a lock")
            // The member's row is free: the upsert waits on the guild's row, before any of its own.
            let free = try await store.transaction { database in
                try await database.raw("""
                    SELECT user_id FROM server_users WHERE guild_id = \(bind: guild.column) AND user_id = \(bind: IDs.user(1).column) FOR UPDATE NOWAIT
                    """).first() != nil
            }
            #expect(free)
            releasing.yield()
            try await holder.value
            #expect(try await upsert.value.written == 2)
            #expect(try await store.serverUser(IDs.user(1), in: guild)?.xp == 20)
        }
    }
}
