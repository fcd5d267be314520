import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// A guild Redis lost while SQL is away is refused flush after flush. The first such flush's commit
/// is refused and keeps its guilds' positions instead; the flushes after it must not claim to
/// commit the shards' sessions (the commit would be refused too): their guilds keep where their
/// counted messages end, so a process killed during the outage replays none of them twice.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct RefusedGuildPositionsTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let kept = GuildID(UInt64.random(in: 1...(1 << 40)) << 22), lost = GuildID(UInt64.random(in: 1...(1 << 40)) << 22 | 1)
    let session: UInt64 = 5

    /// Fails while `down`.
    final class Store: GuildHydrator, @unchecked Sendable {
        let down = Locked(false)
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            if down.value { throw StoreError(.database, "the database is down") }
            return []
        }
    }

    /// A message in each guild, as dispatch `sequence` of shard 0's session.
    func messages(_ buffer: StatsBuffer, _ sequence: Int) {
        buffer.lane(for: 0).advance(to: ShardPosition(session: 1, sequence: sequence)) {
            for guild in [kept, lost] {
                buffer.record(guild: guild.rawValue) {
                    $0.countMessage(by: 7, at: 1_000, from: .init(sessionTag: session, sequence: UInt64(sequence)))
                }
            }
        }
    }

    @Test func flushesBesideAGuildThatCannotLoadKeepTheirGuildsPositions() async throws {
        let redis = try RedisTestServer.client()
        let store = Store()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(keys: keys, hydrationBackoff: .seconds(60)), hydrator: store,
            durableWrites: { [keys] positions in [(keys.prefix + ":session", "s=\(positions[0]!.sequence)", 60_000)] })
        func position(_ guild: GuildID) async throws -> String? {
            try await redis.send("HGET", keys.members(in: guild), StatsKeys.positionField).string
        }

        messages(buffer, 1)
        #expect(await flusher.flush())
        #expect(try await position(kept) == nil, "committed with the sessions: no position needed")

        // Redis loses one guild, and SQL is away.
        _ = try await redis.send("DEL", keys.members(in: lost))
        store.down.withLock { $0 = true }
        messages(buffer, 2)
        #expect(await !flusher.flush(), "the lost guild waits")
        #expect(try await position(kept) == "\(session):2", "the commit this flush meant to make, refused, kept the guild's position")
        messages(buffer, 3)
        #expect(await !flusher.flush(), "and waits")
        #expect(try await position(kept) == "\(session):3", "the flush beside it kept the guild's position")
        #expect(try await redis.send("GET", keys.prefix + ":session").string == "s=1", "no session saved past the waiting guild")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(7), in: kept)?.messages == 3)
        await redis.close()
    }
}
