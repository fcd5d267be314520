import DiscordGateway
import DiscordModels
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// After a restart the guild's actor starts without the cooldowns Redis holds. A member's first
/// message then is one Redis may refuse; the actor must not take it as the start of a cooldown
/// Redis does not have, or it holds back a later message that would earn XP.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct RestartedActorCooldownTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let member: UInt64 = 4_242

    /// A message of `member` `seconds` after 2025-01-01, and its ID.
    func message(atSecond seconds: UInt64, sequence: Int) -> (ShardDispatch, UInt64) {
        let id = MessageID(unixMilliseconds: 1_735_689_600_000 + seconds * 1_000, increment: 0).rawValue
        let payload = """
            {"op":0,"s":\(sequence),"t":"MESSAGE_CREATE","d":{"type":0,"content":"","member":{"roles":[]},"id":"\(id)",\
            "channel_id":"700","author":{"id":"\(member)","username":"u"},"guild_id":"\(guild.rawValue)"}}
            """
        return (ShardDispatch(payload: Array(payload.utf8))!, id)
    }

    /// One process's life: its own buffer, router (so guild actors) and flusher; `seconds` are the
    /// member's messages, flushed at the end. Returns their IDs.
    func process(_ redis: RedisClient, messagesAtSeconds seconds: [UInt64]) async throws -> [UInt64] {
        let buffer = StatsBuffer(capacity: 1_000)
        let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(.defaults))
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(interval: .seconds(60), keys: keys))
        var ids: [UInt64] = []
        for (index, second) in seconds.enumerated() {
            let (dispatch, id) = message(atSecond: second, sequence: index + 1)
            await router.route(dispatch, lane: nil)
            ids.append(id)
        }
        #expect(await flusher.flush())
        return ids
    }

    @Test func aGrantRedisRefusesAfterARestartHoldsNoLaterOneBack() async throws {
        let redis = try RedisTestServer.client()
        // Before the restart: XP at second 0.
        let before = try await process(redis, messagesAtSeconds: [0])
        // After it: 30 s in (Redis's cooldown refuses it), then 65 s in (past Redis's cooldown, but
        // within a minute of the message at 30 s the new actor saw).
        let after = try await process(redis, messagesAtSeconds: [30, 65])
        let record = try #require(try await StatsReader(redis: redis, keys: keys).member(UserID(member), in: guild))
        let roll = { (id: UInt64) in XPRules.roll(messageID: id, minimum: 15, maximum: 25) }
        #expect(record.messages == 3)
        #expect(record.xpMessages == 2, "the messages at 0 and 65 s earn, as the simulator's ground truth and MEE6 count")
        #expect(record.xp == roll(before[0]) + roll(after[1]))
        #expect(record.lastXPAt == MessageID(after[1]).unixMilliseconds)
        await redis.close()
    }
}
