import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import Testing

/// What a flush makes of script replies that are not of the script's shape: nothing read out of
/// step. Made-up replies, no Redis: the script itself never sends these, a broken proxy or a
/// changed script might.
struct FlushReplyShapeTests {
    let guilds: [UInt64] = [1 << 22, 2 << 22, 3 << 22]

    /// Three guilds in one call, on a single Redis: the replies as MULTI/EXEC brings them.
    func settled(_ call: [RedisValue]) -> (PendingFlush.Outcome, remaining: [UInt64]) {
        var batch = GuildStatsBatch()
        batch.countMessage(by: 5)
        batch.grant(.init(user: 5, messageTime: 1_000_000, xp: 20), cooldownMilliseconds: 60_000)
        var flush = PendingFlush(
            id: "shape", batches: Dictionary(uniqueKeysWithValues: guilds.map { ($0, batch) }), keys: StatsKeys(prefix: "shape"), guildsPerCall: 3)
        _ = flush.pipeline(scriptHash: "0000")
        // MULTI, QUEUED for the call, the journal and the guild list; EXEC: the call's reply, then
        // the journal's.
        let replies: [RedisValue] = [.simple("OK"), .simple("QUEUED"), .simple("QUEUED"), .array([.array(call), .integer(1)])]
        let outcome = flush.settle(replies)
        return (outcome, flush.batches.keys.sorted())
    }

    @Test func aWellFormedReplySettlesEachGuild() {
        let (outcome, remaining) = settled([
            .integer(1), .integer(1), .bulk(Array("5".utf8)), .integer(0), .integer(1),
            .integer(-2), .integer(0),
            .integer(-1), .integer(0),
        ])
        #expect(outcome.error == nil)
        #expect(outcome.guilds.map(\.guild) == [guilds[0], guilds[2]])
        #expect(outcome.levelUps == [LevelUp(guild: GuildID(guilds[0]), user: UserID(5), from: 0, to: 1)])
        #expect(outcome.unloaded == [guilds[1]])
        #expect(outcome.appliedEarlier == [guilds[2]])
        #expect(remaining == [guilds[1]])
    }

    /// A guild promising more level-ups than follow would, read on, take the next guild's "not
    /// loaded" for "applied": its changes acknowledged and never written. It and every guild after
    /// it stay in the flush instead, to be sent again.
    @Test(arguments: [
        // Two level-ups promised, one given.
        [RedisValue.integer(1), .integer(2), .bulk(Array("5".utf8)), .integer(0), .integer(1), .integer(-2), .integer(0), .integer(-1), .integer(0)],
        // A level-up's user is not a number.
        [.integer(1), .integer(1), .bulk(Array("five".utf8)), .integer(0), .integer(1), .integer(-2), .integer(0), .integer(-1), .integer(0)],
        // A status the script never returns.
        [.integer(-7), .integer(0), .integer(-2), .integer(0), .integer(-1), .integer(0)],
        // Level-ups for a guild that was not applied.
        [.integer(-2), .integer(1), .bulk(Array("5".utf8)), .integer(0), .integer(1), .integer(-2), .integer(0), .integer(-1), .integer(0)],
        // A broken guild without its error.
        [.integer(-3), .integer(0)],
    ])
    func aReplyOutOfShapeSettlesNothingFromThereOn(_ call: [RedisValue]) {
        let (outcome, remaining) = settled(call)
        #expect(outcome.error?.contains("not of its shape") == true)
        #expect(outcome.guilds.isEmpty && outcome.unloaded.isEmpty && outcome.broken.isEmpty && outcome.levelUps.isEmpty)
        #expect(remaining == guilds)
    }

    /// Values left over once every guild was read: the reply was not what was asked for.
    @Test func valuesBeyondTheGuildsAreAnError() {
        let (outcome, _) = settled([.integer(0), .integer(0), .integer(0), .integer(0), .integer(0), .integer(0), .integer(9)])
        #expect(outcome.error?.contains("values more than its guilds'") == true)
    }
}
