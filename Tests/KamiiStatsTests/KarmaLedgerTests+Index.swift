import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// The karma index (`:karma-index:<week>`): what a clear of a message's reactions reads instead of
/// scanning the week's ledger, when it can be trusted, and what a privacy deletion takes from it.
extension KarmaLedgerTests {
    /// The ledger and the index of `message`'s week.
    private func ledgerAndIndex(of message: UInt64) -> (ledger: String, index: String) {
        let week = MessageID(message).unixMilliseconds / StatsKeys.karmaWeekMilliseconds
        return (keys.karmaLedger(in: guild, week: week), keys.karmaIndex(in: guild, week: week))
    }

    /// What a karma index holds, in its (lexicographic) order.
    private func entries(of index: String, _ redis: RedisClient) async throws -> [String] {
        try await redis.send("ZRANGE", index, "0", "-1").array?.compactMap(\.string) ?? []
    }

    /// A clear reads the message's entries from the week's index (one range of a sorted set), not a
    /// scan of the week's ledger: an entry the index does not name is left alone. Removals and
    /// clears take their entries out of the index; the index expires with its ledger.
    @Test func aClearReadsItsMessagesEntriesFromTheIndex() async throws {
        let redis = try RedisTestServer.client()
        let (thumbs, star) = (KarmaRules.emojiKey("👍"), KarmaRules.emojiKey("⭐"))
        let message = GuildStatsBatch.recentMessageID(), other = message + 1
        let (ledger, index) = ledgerAndIndex(of: message)
        #expect(keys.karmaIndex(ofLedger: ledger) == index)
        func indexed() async throws -> [String] { try await entries(of: index, redis) }
        #expect(await flush([
            .init(message: message, giver: 1, emoji: thumbs, receiver: 2), .init(message: message, giver: 3, emoji: thumbs, receiver: 2),
            .init(message: message, giver: 4, emoji: star, receiver: 2), .init(message: other, giver: 1, emoji: thumbs, receiver: 5),
        ], redis))
        #expect(try await indexed() == ["\(message):1:\(thumbs)", "\(message):3:\(thumbs)", "\(message):4:\(star)", "\(other):1:\(thumbs)", StatsKeys.karmaIndexedMarker])
        #expect(try await redis.send("PEXPIRETIME", index).int == (try await redis.send("PEXPIRETIME", ledger).int))
        // An entry only the ledger has, and one only the index has (another message's), so the
        // counts still match: a scan would take the first back, the index does not know it.
        try await redis.send("HSET", ledger, "\(message):9:\(thumbs)", "2")
        try await redis.send("ZADD", index, "0", "\(other):8:\(thumbs)")
        #expect(await flush([.cleared(message, emoji: thumbs)], redis))
        #expect(try await member(2, redis)?.karma == 1, "givers 1 and 3 taken back, the star kept")
        #expect(try await member(5, redis)?.karma == 1)
        #expect(try await redis.send("HEXISTS", ledger, "\(message):9:\(thumbs)").int == 1, "not read")
        #expect(try await indexed() == ["\(message):4:\(star)", "\(other):1:\(thumbs)", "\(other):8:\(thumbs)", StatsKeys.karmaIndexedMarker])
        #expect(await flush([.init(message: message, giver: 4, emoji: star, receiver: nil)], redis))
        #expect(try await member(2, redis)?.karma == 0)
        #expect(try await indexed() == ["\(other):1:\(thumbs)", "\(other):8:\(thumbs)", StatsKeys.karmaIndexedMarker])
        await redis.close()
    }

    /// An index that does not hold as many entries as its ledger (an earlier version gave karma into
    /// the week since: no ZADD) is not trusted: the clear scans the ledger and takes back every entry
    /// of the message. A ledger begun again (emptied, then given to) begins its index again.
    @Test func anIndexMissingEntriesIsNotTrusted() async throws {
        let redis = try RedisTestServer.client()
        let thumbs = KarmaRules.emojiKey("👍")
        let message = GuildStatsBatch.recentMessageID()
        let (ledger, index) = ledgerAndIndex(of: message)
        func indexed() async throws -> [String] { try await entries(of: index, redis) }
        #expect(await flush([
            .init(message: message, giver: 1, emoji: thumbs, receiver: 2), .init(message: message, giver: 3, emoji: thumbs, receiver: 2),
        ], redis))
        try await redis.send("ZREM", index, "\(message):3:\(thumbs)")  // given by an earlier version
        #expect(await flush([.cleared(message, emoji: thumbs)], redis))
        #expect(try await member(2, redis)?.karma == 0, "both taken back")
        #expect(try await redis.send("EXISTS", ledger).int == 0, "the ledger emptied")
        #expect(try await indexed() == [StatsKeys.karmaIndexedMarker])
        // Something an earlier version left in the index of a ledger that is gone.
        try await redis.send("ZADD", index, "0", "\(message):8:\(thumbs)")
        #expect(await flush([.init(message: message, giver: 5, emoji: thumbs, receiver: 2)], redis))
        #expect(try await indexed() == ["\(message):5:\(thumbs)", StatsKeys.karmaIndexedMarker], "begun again with its ledger")
        #expect(try await redis.send("PEXPIRETIME", index).int == (try await redis.send("PEXPIRETIME", ledger).int))
        await redis.close()
    }

    /// A user's privacy deletion takes their entries out of every index, including an index whose
    /// ledger is gone (evicted, or emptied by an earlier version): its entries name the giver.
    @Test func aUsersDeletionLeavesNoIndexEntryOfTheirs() async throws {
        let redis = try RedisTestServer.client()
        let thumbs = KarmaRules.emojiKey("👍")
        let message = GuildStatsBatch.recentMessageID()
        let (ledger, index) = ledgerAndIndex(of: message)
        let orphan = ledgerAndIndex(of: message - (StatsKeys.karmaWeekMilliseconds << 22)).index
        #expect(keys.karmaLedger(ofIndex: index) == ledger)
        #expect(await flush([
            .init(message: message, giver: 11, emoji: thumbs, receiver: 2), .init(message: message, giver: 12, emoji: thumbs, receiver: 11),
            .init(message: message, giver: 13, emoji: thumbs, receiver: 2),
        ], redis))
        try await redis.send("ZADD", index, "0", "\(message - 5):11:\(thumbs)")  // the ledger no longer has it
        try await redis.send("ZADD", orphan, "0", "\(message - 9):11:\(thumbs)", "0", "\(message - 9):13:\(thumbs)")
        try await redis.send("EXPIRE", orphan, "600")
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(11))
        #expect(try await entries(of: index, redis) == ["\(message):13:\(thumbs)", StatsKeys.karmaIndexedMarker], "what 11 gave, and what 11 received, gone")
        #expect(try await entries(of: orphan, redis) == ["\(message - 9):13:\(thumbs)"])
        await redis.close()
    }

    /// A week's ledger begun before the index (no marker; later entries indexed without one) is
    /// cleared by a scan of the ledger, as before: every entry of the message goes, indexed or not.
    @Test func aLedgerBegunBeforeTheIndexIsClearedByAScan() async throws {
        let redis = try RedisTestServer.client()
        let thumbs = KarmaRules.emojiKey("👍")
        let message = GuildStatsBatch.recentMessageID(), other = message + 1
        let index = ledgerAndIndex(of: message).index
        #expect(await flush([
            .init(message: message, giver: 1, emoji: thumbs, receiver: 2), .init(message: other, giver: 1, emoji: thumbs, receiver: 5),
        ], redis))
        try await redis.send("DEL", index)  // as an earlier version left it
        #expect(await flush([.init(message: message, giver: 3, emoji: thumbs, receiver: 2)], redis))
        #expect(try await entries(of: index, redis) == ["\(message):3:\(thumbs)"], "no marker")
        #expect(try await member(2, redis)?.karma == 2)
        #expect(await flush([.cleared(message, emoji: nil)], redis))
        #expect(try await member(2, redis)?.karma == 0, "the unindexed entry and the indexed one")
        #expect(try await member(5, redis)?.karma == 1)
        #expect(try await redis.send("EXISTS", index).int == 0, "its one entry taken out")
        await redis.close()
    }
}
