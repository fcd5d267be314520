import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// The trust a checkpoint computes follows what changed, whether or not a member event was ever
/// seen, and a guild loaded back from SQL is judged on the profile it had.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct CheckpointerTrustTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    /// A user ID of 2015: the account-age line is +15 and stays so.
    let user = UInt64(1 << 50)

    private func messages(_ count: Int, _ buffer: StatsBuffer, profile: MemberProfile? = nil) {
        for _ in 0..<count { buffer.record(guild: guild.rawValue) { $0.countMessage(by: user) } }
        if let profile { buffer.record(guild: guild.rawValue) { $0.setProfile(profile, of: user) } }
    }

    private func expected(messages: Int, hasAvatar: Bool? = nil, joinedAt: UInt64? = nil, isVerified: Bool = false) -> Int {
        TrustFactor.value(
            .init(accountCreatedAt: UserID(user).unixMilliseconds, hasAvatar: hasAvatar, joinedAt: joinedAt, isVerified: isVerified, messages: messages),
            now: UInt64(Date().timeIntervalSince1970 * 1_000))
    }

    /// A member who joined before the bot (no member event): their score, written back to Redis by
    /// the first checkpoint, is judged again at the next — it grew with their activity.
    @Test func aMemberWithoutAMemberEventIsJudgedAgainAtEachCheckpoint() async throws {
        let (store, cleanup) = try await CheckpointerTests.store("sqlite")
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        messages(2, buffer)
        #expect(await flusher.flush())
        await checkpointer.checkpoint()
        #expect(try await store.serverUser(UserID(user), in: guild)?.trust == expected(messages: 2))
        messages(10, buffer)
        #expect(await flusher.flush())
        await checkpointer.checkpoint()
        let later = expected(messages: 12)
        #expect(later == expected(messages: 2) + 5, "ten messages more: the activity line's +5")
        #expect(try await store.serverUser(UserID(user), in: guild)?.trust == later)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(user), in: guild)?.trust == later)
        await redis.close()
        try await store.close()
    }

    /// The profile a member event gave reaches SQL with the counters, and comes back with a guild
    /// Redis lost: the checkpoint after the load judges the member on it, as before the loss.
    @Test(arguments: CheckpointerTests.engines)
    func aGuildLoadedBackFromSQLIsJudgedOnTheProfileItHad(engine: String) async throws {
        let (store, cleanup) = try await CheckpointerTests.store(engine)
        defer { cleanup() }
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: StoreHydrator(store: store))
        let checkpointer = Checkpointer(store: store, redis: redis, keys: keys)
        let joined: UInt64 = 1_600_000_000_000
        messages(1, buffer, profile: MemberProfile(hasAvatar: true, joinedAt: joined, isPending: false, isVerified: true, trust: 70))
        #expect(await flusher.flush())
        await checkpointer.checkpoint()
        let row = try #require(try await store.serverUser(UserID(user), in: guild))
        #expect(row.hasAvatar == true && row.joinedAt == Int64(joined) && row.isPending == false && row.isVerified == true, "\(row)")
        #expect(row.trust == expected(messages: 1, hasAvatar: true, joinedAt: joined, isVerified: true))

        for key in [keys.members(in: guild), keys.leaderboard(.xp, in: guild), keys.leaderboard(.karma, in: guild)] {
            try await redis.send("DEL", key)
        }
        messages(1, buffer)
        #expect(await flusher.flush())
        #expect(await flusher.totals.hydrations == 2)
        let loaded = try #require(try await StatsReader(redis: redis, keys: keys).member(UserID(user), in: guild))
        #expect(loaded.hasAvatar == true && loaded.joinedAt == joined && loaded.isPending == false && loaded.isVerified == true)
        await checkpointer.checkpoint()
        #expect(try await store.serverUser(UserID(user), in: guild)?.trust == expected(messages: 2, hasAvatar: true, joinedAt: joined, isVerified: true))
        await redis.close()
        try await store.close()
    }
}
