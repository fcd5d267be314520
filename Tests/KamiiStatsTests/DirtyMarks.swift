import DiscordModels
import KamiiRedis
@testable import KamiiStats

extension StatsKeys {
    /// Stores `records` (user → stored record) in the guild's members hash and marks the members
    /// (all of them, or `only` those) and the guild dirty, as a flush leaves them for the checkpointer.
    func markDirty(_ records: [String: String], only: [String]? = nil, in guild: GuildID, _ redis: RedisClient) async throws {
        var pipeline = RedisPipeline()
        pipeline.append(["HSET", members(in: guild)] + records.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
        pipeline.append(["SADD", dirtyMembers(in: guild)] + (only ?? records.keys.sorted()))
        pipeline.append("SADD", dirtyGuilds, String(guild.rawValue))
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
    }
}
