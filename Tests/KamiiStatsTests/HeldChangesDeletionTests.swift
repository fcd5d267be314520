import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// Changes the bot held past a privacy deletion (Redis away, a long flush interval, a guild waiting
/// for SQL): the flush judges them by when their take began against the deletion Redis remembers,
/// so none that may predate it brings the deleted data back. Against redis-server.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct HeldChangesDeletionTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    /// Three members, the first the one deleted.
    let one = UInt64.random(in: 1...(1 << 60)), two = UInt64.random(in: 1...(1 << 60)), three = UInt64.random(in: 1...(1 << 60))

    /// Changes recorded before a user's deletion and flushed only after it — later than the
    /// deletion's second Redis pass (Redis away, a long flush interval) — do not bring the user
    /// back, nor do reactions they gave: the flush finds the deletion remembered after the changes'
    /// take began. The other members' changes go in, and the user's own from after the deletion.
    @Test func changesHeldPastAUsersDeletionDoNotBringThemBack() async throws {
        let (redis, buffer, flusher) = try await flushed([one, two])
        buffer.record(guild: guild.rawValue) { batch in
            for user in [one, two] { batch.countMessage(by: user) }
            batch.record(.init(message: GuildStatsBatch.recentMessageID(), giver: one, emoji: KarmaRules.emojiKey("👍"), receiver: two))
        }
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(UserID(one)) == 1)
        // The next take begins after the deletion (the buffer's clock is coarse: a few ms).
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil, "the deleted user stays deleted")
        #expect(try await reader.member(UserID(two), in: guild)?.messages == 2)
        #expect(try await reader.member(UserID(two), in: guild)?.karma == 0, "no karma from the deleted user")
        #expect(try await KarmaLedger(redis: redis, keys: keys).entries(of: guild).isEmpty)

        buffer.record(guild: guild.rawValue) { $0.countMessage(by: one) }
        #expect(await flusher.flush())
        #expect(try await reader.member(UserID(one), in: guild)?.messages == 1, "a message after the deletion counts")
        await redis.close()
    }

    /// Reactions held past a user's deletion, given by them or to them, with nothing else of theirs
    /// in the flush: the ledger does not get them, nobody gets karma from them, and the deleted
    /// user's record does not start again as a receiver.
    @Test func reactionsHeldPastAUsersDeletionAreForgotten() async throws {
        let (redis, buffer, flusher) = try await flushed([one, two])
        let message = GuildStatsBatch.recentMessageID()
        buffer.record(guild: guild.rawValue) { batch in
            batch.record(.init(message: message, giver: one, emoji: KarmaRules.emojiKey("👍"), receiver: two))
            batch.record(.init(message: message + 1, giver: two, emoji: KarmaRules.emojiKey("👍"), receiver: one))
        }
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(one))
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil, "not brought back as a receiver")
        #expect(try await reader.member(UserID(two), in: guild)?.karma == 0, "nothing from the deleted giver")
        #expect(try await KarmaLedger(redis: redis, keys: keys).entries(of: guild).isEmpty)
        await redis.close()
    }

    /// A guild held back (waiting for SQL) keeps the early time its batch began recording; the
    /// guilds flushed beside it are judged by their own: what a member posted after their deletion
    /// counts.
    @Test func aGuildHeldBackDoesNotMakeItsNeighboursDropWhatCameAfterADeletion() async throws {
        let redis = try RedisTestServer.client()
        let (held, neighbour) = (GuildID(guild.rawValue + (1 << 22)), guild)
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        buffer.record(guild: neighbour.rawValue) { $0.countMessage(by: one) }
        #expect(await flusher.flush())
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(one))
        try await Task.sleep(for: .milliseconds(30))
        var early = GuildStatsBatch(), late = GuildStatsBatch()
        early.countMessage(by: two)
        late.countMessage(by: one)
        late.recordedAfter = GuildRouter.unixMilliseconds()
        var flush = PendingFlush(id: "test-1", batches: [held.rawValue: early, neighbour.rawValue: late], keys: keys, guildsPerCall: 100,
                                 deletionClockAllowance: .zero)
        let sha = try await redis.load(StatsFlushScript.script)
        let outcome = flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha)))
        #expect(outcome.applied == 2 && outcome.error == nil, "\(outcome)")
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: neighbour)?.messages == 1, "posted after the deletion")
        #expect(try await reader.member(UserID(two), in: held)?.messages == 1)
        await redis.close()
    }

    /// A member who only reacts has no record, but the ledger names them: their deletion is
    /// remembered there, and a reaction of theirs held past it does not go back in the ledger.
    @Test func aMemberWhoOnlyReactsIsRememberedAsDeleted() async throws {
        let (redis, buffer, flusher) = try await flushed([])
        let message = GuildStatsBatch.recentMessageID()
        buffer.record(guild: guild.rawValue) { batch in
            batch.countMessage(by: two)
            batch.record(.init(message: message, giver: one, emoji: KarmaRules.emojiKey("👍"), receiver: two))
        }
        #expect(await flusher.flush())
        buffer.record(guild: guild.rawValue) { $0.record(.init(message: message + 1, giver: one, emoji: KarmaRules.emojiKey("👍"), receiver: two)) }
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(UserID(one)) == 0, "no record of theirs")
        #expect(try await redis.send("HEXISTS", keys.deletions(in: guild), String(one)).int == 1)
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        #expect(try await KarmaLedger(redis: redis, keys: keys).entries(of: guild).isEmpty)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(two), in: guild)?.karma == 1, "the first reaction's karma stays with its receiver")
        await redis.close()
    }

    /// A message sent before the deletion but recorded after it — replayed to a bot that restarted
    /// — is judged by when it was sent: it does not bring the user back, even in a batch that began
    /// recording after the deletion.
    @Test func aMessageReplayedAfterADeletionDoesNotBringTheUserBack() async throws {
        let (redis, _, _) = try await flushed([one])
        let sent = GuildRouter.unixMilliseconds() - 60_000
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(one))
        var replayed = GuildStatsBatch()
        replayed.countMessage(by: one, at: sent)
        replayed.countMessage(by: two, at: sent)
        replayed.recordedAfter = GuildRouter.unixMilliseconds() + 10_000
        #expect(try await applyAlone(replayed, id: "replay-1", redis) == 1)
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(one), in: guild) == nil, "sent before the deletion")
        #expect(try await reader.member(UserID(two), in: guild)?.messages == 1)
        await redis.close()
    }

    /// A deleted member's changes are passed over whole — grants, replayed messages and profile
    /// — and the member after them in the guild's changes gets exactly theirs.
    @Test func theMemberAfterADeletedOneGetsExactlyTheirChanges() async throws {
        let (low, high) = (min(one, two), max(one, two))
        let (redis, _, _) = try await flushed([low])
        let sent = GuildRouter.unixMilliseconds() - 180_000
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(low))
        var batch = GuildStatsBatch()
        for (user, sequence) in [(low, 1), (high, 2)] as [(UInt64, UInt64)] {
            batch.countMessage(by: user, at: sent, from: .init(sessionTag: 5, sequence: sequence, mayBeApplied: true))
        }
        for (user, offset, xp) in [(low, 0, 15), (high, 0, 20), (low, 60_000, 25), (high, 120_000, 17)] as [(UInt64, UInt64, Int)] {
            batch.countMessage(by: user, at: sent + offset)
            batch.grant(.init(user: user, messageTime: sent + offset, xp: xp), cooldownMilliseconds: 60_000)
        }
        batch.setProfile(MemberProfile(hasAvatar: true, joinedAt: 5, isPending: false, isVerified: true, trust: 40), of: low)
        batch.recordedAfter = GuildRouter.unixMilliseconds() + 10_000
        #expect(try await applyAlone(batch, id: "replay-2", redis) == 1)
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(low), in: guild) == nil, "deleted")
        let record = try await reader.member(UserID(high), in: guild)
        #expect(record?.messages == 3 && record?.xp == 37 && record?.xpMessages == 2, "\(String(describing: record))")
        await redis.close()
    }

    /// The same for a guild's deletion: what was held goes nowhere, and what comes after counts.
    @Test func changesHeldPastAGuildsDeletionDoNotBringItBack() async throws {
        let (redis, buffer, flusher) = try await flushed([one, two])
        for user in [one, two] { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }
        try await StatsPurge(redis: redis, keys: keys).purge(guild)
        try await Task.sleep(for: .milliseconds(30))
        #expect(await flusher.flush())
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.members(of: guild).isEmpty)
        #expect(await flusher.totals.guildBatches == 2, "the held batch counts as done")

        buffer.record(guild: guild.rawValue) { $0.countMessage(by: three) }
        #expect(await flusher.flush())
        #expect(try await reader.members(of: guild).mapValues(\.messages) == [UserID(three): 1])
        await redis.close()
    }

    /// A flusher that judges deletions with no clock allowance (bot and Redis share this machine's
    /// clock), after it flushed a message of each of `users`.
    private func flushed(_ users: [UInt64]) async throws -> (RedisClient, StatsBuffer, StatsFlusher) {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, deletionClockAllowance: .zero))
        for user in users { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }
        if !users.isEmpty { #expect(await flusher.flush()) }
        return (redis, buffer, flusher)
    }

    /// Applies `batch` as a flush of its own (what a restarted process's held changes are); returns
    /// how many guilds have it applied.
    private func applyAlone(_ batch: GuildStatsBatch, id: String, _ redis: RedisClient) async throws -> Int {
        var flush = PendingFlush(id: id, batches: [guild.rawValue: batch], keys: keys, guildsPerCall: 100)
        let sha = try await redis.load(StatsFlushScript.script)
        return flush.settle(try await redis.execute(flush.pipeline(scriptHash: sha))).applied
    }
}
