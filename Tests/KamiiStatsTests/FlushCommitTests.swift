import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// The commit that ends a flush's transaction: the shards' sessions are saved only when every guild
/// of the flush has its batch. Guilds of the transaction confirm themselves through a counter;
/// guilds of earlier round trips are judged by their markers.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct FlushCommitTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let guilds = (1...3).map { GuildID((UInt64.random(in: 1...(1 << 40)) + UInt64($0)) << 22) }
    var sessionKey: String { keys.prefix + ":session-probe" }
    var records: [DurableWrite] { [(sessionKey, "v", 60_000)] }
    let sessionTag: UInt64 = 0xFEED_0000_0000_0042

    /// The position a guild's members hash keeps (`tag:s`), if any.
    func position(_ guild: GuildID, _ redis: RedisClient) async throws -> String? {
        try await redis.send("HGET", keys.members(in: guild), StatsKeys.positionField).string
    }

    func flush(_ id: String, guildsPerCall: Int = 100) -> PendingFlush {
        var batches: [UInt64: GuildStatsBatch] = [:]
        for (index, guild) in guilds.enumerated() {
            var batch = GuildStatsBatch()
            batch.countMessage(by: 4, at: 1_735_689_600_000, from: .init(sessionTag: sessionTag, sequence: UInt64(40 + index)))
            batches[guild.rawValue] = batch
        }
        return PendingFlush(id: id, batches: batches, keys: keys, guildsPerCall: guildsPerCall, positions: [0: ShardPosition(session: 1, sequence: 9)])
    }

    /// Keys the flush left under its prefix other than the guilds' and the journal's: none.
    func counters(_ redis: RedisClient) async throws -> [String] {
        try await redis.send("KEYS", keys.dirtyGuilds + ":confirmed*").array?.compactMap(\.string) ?? []
    }

    @Test func aTransactionOfAppliedGuildsSavesTheSessionsAndLeavesNoCounter() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        var flush = flush("commit-1")
        let outcome = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, records: records)))
        #expect(outcome.recordsWritten && outcome.applied == 3 && flush.batches.isEmpty)
        #expect(try await redis.send("GET", sessionKey).string == "v")
        #expect(try await counters(redis).isEmpty)
        for guild in guilds { #expect(try await position(guild, redis) == nil, "the saved sessions are the position") }
        await redis.close()
    }

    /// One guild to rehydrate keeps the sessions unsaved (its changes are not in yet); the counter
    /// goes with the transaction all the same.
    @Test func aGuildRedisRefusesHoldsTheSessionsBack() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        for guild in guilds.dropLast() { try await redis.send("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated") }
        var flush = flush("commit-2")
        let refused = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        #expect(refused.unloaded == [guilds[2].rawValue] && refused.applied == 2 && !refused.recordsWritten)
        #expect(try await redis.send("EXISTS", sessionKey).int == 0)
        #expect(try await counters(redis).isEmpty)

        try await redis.send("HSET", keys.members(in: guilds[2]), StatsKeys.batchField, "hydrated")
        let applied = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        #expect(applied.recordsWritten && flush.batches.isEmpty)
        #expect(try await redis.send("GET", sessionKey).string == "v")
        await redis.close()
    }

    /// A refused commit keeps the positions of the guilds that have the batch — never back within a
    /// session, over another session's — and none for a guild Redis refused: after a kill before the
    /// sessions go in, their replayed messages are not counted again.
    @Test func aRefusedCommitKeepsTheAppliedGuildsPositions() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        for guild in guilds.dropLast() { try await redis.send("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated") }
        // Guild 0 kept another session's; guild 1 counted further in this one (a replay flushed in
        // parts), which stays (100 is past 41, though not as text).
        try await redis.send("HSET", keys.members(in: guilds[0]), StatsKeys.positionField, "7:500")
        try await redis.send("HSET", keys.members(in: guilds[1]), StatsKeys.positionField, "\(sessionTag):100")
        var flush = flush("commit-6")
        let refused = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        #expect(refused.unloaded == [guilds[2].rawValue] && refused.applied == 2 && !refused.recordsWritten)
        #expect(try await position(guilds[0], redis) == "\(sessionTag):40")
        #expect(try await position(guilds[1], redis) == "\(sessionTag):100")
        #expect(try await position(guilds[2], redis) == nil)
        await redis.close()
    }

    /// A journal entry Redis refused (the journal's key is not Kamii's) refuses the commit, which
    /// keeps the positions in its place.
    @Test func aRefusedJournalEntryKeepsThePositions() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        try await redis.send("SET", keys.changeJournal, "not a hash")
        var flush = flush("commit-7")
        let outcome = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, records: records)))
        #expect(outcome.unjournaled != nil && outcome.applied == 3 && !outcome.recordsWritten)
        #expect(try await redis.send("EXISTS", sessionKey).int == 0)
        for (index, guild) in guilds.enumerated() { #expect(try await position(guild, redis) == "\(sessionTag):\(40 + index)") }
        _ = try await redis.send("DEL", keys.changeJournal)
        await redis.close()
    }

    /// Three guilds in two calls of one transaction (two per call, by id): the count adds up over the
    /// calls, whichever call holds the guild Redis refuses.
    @Test(arguments: [nil, 0, 2] as [Int?])
    func theCountAddsUpOverTheTransactionsCalls(refused refusedIndex: Int?) async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        let byID = guilds.sorted { $0.rawValue < $1.rawValue }
        for (index, guild) in byID.enumerated() where index != refusedIndex {
            try await redis.send("HSET", keys.members(in: guild), StatsKeys.batchField, "hydrated")
        }
        var flush = flush("commit-5", guildsPerCall: 2)
        let outcome = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, mustBeLoaded: true, records: records)))
        if let refusedIndex {
            #expect(outcome.unloaded == [byID[refusedIndex].rawValue] && outcome.applied == 2 && !outcome.recordsWritten)
            #expect(try await redis.send("EXISTS", sessionKey).int == 0)
        } else {
            #expect(outcome.applied == 3 && outcome.recordsWritten)
            #expect(try await redis.send("GET", sessionKey).string == "v")
        }
        #expect(try await counters(redis).isEmpty)
        await redis.close()
    }

    /// A guild whose keys are not Kamii's fails alone and counts as applied (its batch is not sent
    /// again), so it does not keep the sessions from being saved with the rest.
    @Test func aGuildThatFailsAloneDoesNotHoldTheSessionsBack() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        try await redis.send("SET", keys.members(in: guilds[0]), "not a hash")
        var flush = flush("commit-3")
        let outcome = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, records: records)))
        let broken = outcome.broken.map { $0.guild }
        #expect(broken == [guilds[0].rawValue] && outcome.applied == 2)
        #expect(outcome.recordsWritten && flush.batches.isEmpty)
        #expect(try await redis.send("GET", sessionKey).string == "v")
        #expect(try await counters(redis).isEmpty)
        await redis.close()
    }

    /// A backlog in two round trips (two guilds, then one): the commit in the second checks the
    /// first's guilds by their markers, which Redis may have lost in between.
    @Test(arguments: [true, false])
    func aBacklogsCommitChecksTheGuildsOfEarlierRoundTrips(lostInBetween: Bool) async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        var flush = flush("commit-4", guildsPerCall: 2)
        // Room for one call of two one-member guilds per round trip.
        let twoGuilds = 2 * (StatsFlushScript.guildHeaderArguments + StatsFlushScript.positionArguments + 2)
        let first = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, maxArguments: twoGuilds, records: records)))
        #expect(first.applied == 2 && !first.recordsWritten && flush.batches.count == 1, "\(first)")
        let appliedFirst = try #require(guilds.first { flush.batches[$0.rawValue] == nil })
        if lostInBetween { try await redis.send("DEL", keys.members(in: appliedFirst)) }

        let second = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha, maxArguments: twoGuilds, records: records)))
        #expect(second.applied == 1 && flush.batches.isEmpty)
        #expect(second.recordsWritten == !lostInBetween)
        #expect(try await redis.send("EXISTS", sessionKey).int == (lostInBetween ? 0 : 1))
        #expect(try await counters(redis).isEmpty)
        await redis.close()
    }
}
