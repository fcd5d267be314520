import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// The shutdown's drain while the run loop's last flush is still going.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct StatsFlusherDrainTests {
    /// Holds the first guild load until `release` opens (`holding` opens once it is held).
    final class HeldHydrator: GuildHydrator {
        let holding = Gate(), release = Gate()
        func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
            holding.open()
            await release.wait()
            return []
        }
    }

    /// A drain run from a cancelled task (a shutdown) waits for the running flush to end without
    /// spinning — a cancelled task's sleep returns at once — and then finishes what is left.
    @Test func aCancelledDrainWaitsForTheRunningFlushWithoutSpinning() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
        let hydrator = HeldHydrator()
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys), hydrator: hydrator)
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: 7) }
        async let flushed = flusher.flush()
        await hydrator.holding.wait()
        buffer.record(guild: guild.rawValue) { $0.countMessage(by: 8) }
        let drain = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return await flusher.drain(deadline: .seconds(10))
        }
        try await Task.sleep(for: .milliseconds(400))
        hydrator.release.open()
        #expect(await flushed)
        #expect(await drain.value, "what was recorded during the held flush is flushed too")
        // A drain that spins goes round thousands of times while the flush is held; a waiting one
        // waits once (twice at most, should its own flush find another running).
        let waits = await flusher.drainWaitsForRunningFlush
        #expect((1...2).contains(waits), "\(waits) waits for the running flush")
        let reader = StatsReader(redis: redis, keys: keys)
        #expect(try await reader.member(UserID(7), in: guild)?.messages == 1)
        #expect(try await reader.member(UserID(8), in: guild)?.messages == 1)
        await redis.close()
    }
}
