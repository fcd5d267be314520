import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// The change journal as the flusher writes it: per round trip, left out without a checkpointer, and
/// what happens when Redis refuses it.
extension StatsFlusherTests {
    /// A journal entry Redis refuses (the journal's key is not a hash) does not lose the members
    /// whose changes went in: they are marked in their guild's dirty set instead, which the
    /// checkpointer reads too; until they are marked, the shards' positions stay unclaimed.
    @Test func aRefusedJournalEntryFallsBackToTheDirtySets() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let sessionKey = keys.prefix + ":session-probe"
        let claimed = Locked<[[Int: ShardPosition]]>([])
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys),
            onDurable: { positions in claimed.withLock { $0.append(positions) } },
            durableWrites: { positions in [(sessionKey, "s=\(positions[0]!.sequence)", 60_000)] })
        try await redis.send("SET", keys.changeJournal, "not a hash")
        try await redis.send("SET", keys.dirtyGuilds, "not a set either")
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 5)) { grant(buffer, user: 1, second: 0, xp: 20) }
        #expect(await !flusher.flush(), "applied, but not marked anywhere yet")
        #expect(try await member(1, redis)?.xp == 20)
        #expect(claimed.value.isEmpty)
        #expect(try await redis.send("EXISTS", sessionKey).int == 0, "the commit checks the journal has the entry")

        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 6)) { grant(buffer, user: 2, second: 0, xp: 30) }
        #expect(await !flusher.flush(), "nothing newer goes before the marks")
        #expect(try await member(2, redis) == nil)

        try await redis.send("DEL", keys.dirtyGuilds)
        #expect(await flusher.flush())
        #expect(try await redis.send("SMEMBERS", keys.dirtyMembers(in: guild)).array?.compactMap(\.string).sorted() == ["1", "2"])
        #expect(try await redis.send("SISMEMBER", keys.dirtyGuilds, String(guild.rawValue)).int == 1)
        #expect(try await member(2, redis)?.xp == 30)
        #expect(claimed.value == [[0: ShardPosition(session: 1, sequence: 6)]])
        #expect(try await redis.send("GET", sessionKey).string == "s=6")
        await redis.close()
    }

    /// Marking a refused entry's members skips a guild whose dirty set is not a set (keys Kamii did
    /// not write) rather than holding every other guild back.
    @Test func aBrokenDirtySetDoesNotHoldTheFallbackBack() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let claimed = Locked<[[Int: ShardPosition]]>([])
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys), onDurable: { positions in claimed.withLock { $0.append(positions) } })
        let other = GuildID(guild.rawValue + (1 << 22))
        try await redis.send("SET", keys.changeJournal, "not a hash")
        try await redis.send("SET", keys.dirtyMembers(in: guild), "not a set")
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 3)) {
            grant(buffer, user: 1, second: 0, xp: 20)
            buffer.record(guild: other.rawValue) { $0.countMessage(by: 2) }
        }
        #expect(await flusher.flush())
        #expect(try await redis.send("SMEMBERS", keys.dirtyMembers(in: other)).array?.compactMap(\.string) == ["2"])
        #expect(claimed.value == [[0: ShardPosition(session: 1, sequence: 3)]])
        await redis.close()
    }

    /// With nothing to checkpoint this Redis (no SQL store), flushes keep no journal: it would only grow.
    @Test func noJournalWithoutACheckpointer() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, writesChangeJournal: false))
        grant(buffer, user: 1, second: 0, xp: 20)
        #expect(await flusher.flush())
        #expect(try await member(1, redis)?.xp == 20)
        #expect(try await redis.send("EXISTS", keys.changeJournal).int == 0)
        await redis.close()
    }

    /// A backlog in several round trips on a single Redis: each part one transaction with its own
    /// journal entry, the shards' sessions committed with the last.
    @Test func aBacklogInPartsJournalsEachPartAndCommitsWithTheLast() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let sessionKey = keys.prefix + ":session-probe"
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, guildsPerCall: 2, maxArgumentsPerRoundTrip: 12),
            durableWrites: { positions in [(sessionKey, "s=\(positions[0]!.sequence)", 60_000)] })
        let guilds = (1...5).map { GuildID(guild.rawValue + UInt64($0) << 22) }
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: 8)) {
            for guild in guilds { buffer.record(guild: guild.rawValue) { $0.countMessage(by: 3) } }
        }
        #expect(await flusher.flush())
        #expect(try await journal(redis) == Dictionary(uniqueKeysWithValues: guilds.map { ($0.rawValue, Set([3])) }))
        #expect(try await redis.send("HLEN", keys.changeJournal).int == 3, "two guilds per part (one call)")
        #expect(try await redis.send("GET", sessionKey).string == "s=8")
        for guild in guilds { #expect(try await member(3, redis, in: guild)?.messages == 1) }
        await redis.close()
    }
}
