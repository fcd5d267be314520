import DiscordGateway
import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A configured Unicode emoji counts in any skin tone, and each variant a member places is a
/// reaction of its own on Discord: removing or clearing one takes back what it gave, not what the
/// member's other variant gave.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct KarmaEmojiVariantTests {
    let guild = GuildID((UInt64.random(in: 1...(1 << 40))) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// Routes one dispatch through a fresh actor (karma on, 👍, no pair cooldown) and flushes it.
    private func route(_ name: String, _ data: String, _ redis: RedisClient) async -> Bool {
        var config = GuildConfig()
        config.modules.karma = true
        config.karma.emoji = ["👍"]
        config.karma.cooldownSeconds = 0
        let buffer = StatsBuffer()
        let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(GuildSettings(config)))
        await router.route(ShardDispatch(payload: Array(#"{"op":0,"s":1,"t":"\#(name)","d":\#(data)}"#.utf8))!)
        return await StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys)).flush()
    }

    private func karma(of user: UInt64, _ redis: RedisClient) async throws -> Int? {
        try await StatsReader(redis: redis, keys: keys).member(UserID(user), in: guild)?.karma
    }

    @Test func eachVariantGivesAndIsTakenBackOnItsOwn() async throws {
        let redis = try RedisTestServer.client()
        let message = GuildStatsBatch.recentMessageID()
        func reaction(_ emoji: String, added: Bool = true) -> String {
            let author = added ? #""message_author_id":"2","member":{"user":{"id":"1"}},"# : ""
            return #"{"user_id":"1","message_id":"\#(message)",\#(author)"emoji":{"name":"\#(emoji)","id":null},"channel_id":"7","guild_id":"\#(guild.rawValue)"}"#
        }
        #expect(await route("MESSAGE_REACTION_ADD", reaction("👍"), redis))
        #expect(await route("MESSAGE_REACTION_ADD", reaction("👍🏽"), redis))
        #expect(try await karma(of: 2, redis) == 2, "two reactions, both the configured emoji")
        #expect(await route("MESSAGE_REACTION_REMOVE", reaction("👍🏽", added: false), redis))
        #expect(try await karma(of: 2, redis) == 1, "the plain 👍 still stands")
        #expect(await route("MESSAGE_REACTION_ADD", reaction("👍🏽"), redis))
        let clear = #"{"message_id":"\#(message)","emoji":{"name":"👍🏽","id":null},"channel_id":"7","guild_id":"\#(guild.rawValue)"}"#
        #expect(await route("MESSAGE_REACTION_REMOVE_EMOJI", clear, redis))
        #expect(try await karma(of: 2, redis) == 1, "clearing 👍🏽 leaves the plain 👍")
        await redis.close()
    }
}
