import DiscordModels
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// Redis going away and coming back, on a redis-server of the test's own.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct StatsFlusherOutageTests {
    @Test func whileRedisIsDownChangesWaitAndTheBoundHoldsTheRecordersBack() async throws {
        let server = try RedisProcess()
        let redis = RedisClient(configuration: server.configuration)
        let keys = StatsKeys()
        let guild = GuildID(1 << 22)
        let buffer = StatsBuffer(capacity: 6, flushThreshold: 1_000)
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        func message(_ user: UInt64, second: UInt64) {
            buffer.record(guild: guild.rawValue) { batch in
                batch.countMessage(by: user)
                batch.grant(.init(user: user, messageTime: 1_700_000_000_000 + second * 1_000, xp: 10), cooldownMilliseconds: 60_000)
            }
        }
        message(1, second: 0)
        #expect(await flusher.flush())
        let flushed = try #require(await flusher.lastCompleteFlush)
        #expect(await flusher.lag() == .zero, "nothing waits")

        server.stop()
        message(1, second: 100)
        message(2, second: 100)
        #expect(await !flusher.flush(), "Redis is down")
        await buffer.waitForRoom()
        #expect(buffer.backPressureWaits == 0, "not full yet: no wait")
        message(3, second: 100)
        #expect(await !flusher.flush())
        #expect(buffer.unacknowledged == 6)
        let waiting = Task { await buffer.waitForRoom() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(buffer.backPressureWaits == 1)
        // Measured from the last flush that left nothing behind, however many failed since.
        let now = ContinuousClock.now
        #expect(await flusher.lag(now: now) == now - flushed.endedAt)
        #expect(await flusher.lag(now: now) >= .milliseconds(100))

        try server.start()
        #expect(await flusher.drain(deadline: .seconds(10)))
        await waiting.value
        #expect(await flusher.lag() == .zero)
        #expect(try #require(await flusher.lastCompleteFlush).endedAt > flushed.endedAt)
        for (user, xp) in [(1, 20), (2, 10), (3, 10)] {
            #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(UInt64(user)), in: guild)?.xp == xp)
        }
        let totals = await flusher.totals
        #expect(totals.failedAttempts >= 2 && totals.grantsApplied == 4)
        await redis.close()
    }

    @Test func aRestartedRedisKeepsWhatWasAcknowledged() async throws {
        let server = try RedisProcess()
        let redis = RedisClient(configuration: server.configuration)
        let keys = StatsKeys()
        let guild = GuildID(3 << 22)
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for user in 1...50 as ClosedRange<UInt64> {
            buffer.record(guild: guild.rawValue) { $0.grant(.init(user: user, messageTime: 1_700_000_000_000, xp: Int(user)), cooldownMilliseconds: 60_000) }
        }
        #expect(await flusher.flush())
        server.stop()
        try server.start()
        for user in 1...50 as ClosedRange<UInt64> {
            buffer.record(guild: guild.rawValue) { $0.grant(.init(user: user, messageTime: 1_700_000_100_000, xp: 1), cooldownMilliseconds: 60_000) }
        }
        #expect(await flusher.drain(deadline: .seconds(10)))
        let top = try await redis.send("ZREVRANGE", keys.leaderboard(.xp, in: guild), "0", "0", "WITHSCORES").array ?? []
        #expect(top == [.bulk(Array("50".utf8)), .bulk(Array("51".utf8))])
        #expect(try await redis.send("ZCARD", keys.leaderboard(.xp, in: guild)).int == 50)
        await redis.close()
    }

    /// On a server of its own: SCRIPT FLUSH would pull the script from under other suites.
    @Test func aRedisThatForgotTheScriptGetsItAgain() async throws {
        let server = try RedisProcess()
        let redis = RedisClient(configuration: server.configuration)
        let keys = StatsKeys()
        let guild = GuildID(5 << 22)
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        func grant(second: UInt64, xp: Int) {
            buffer.record(guild: guild.rawValue) { $0.grant(.init(user: 9, messageTime: 1_700_000_000_000 + second * 1_000, xp: xp), cooldownMilliseconds: 60_000) }
        }
        grant(second: 0, xp: 15)
        #expect(await flusher.flush())
        try await redis.send("SCRIPT", "FLUSH")
        grant(second: 100, xp: 16)
        #expect(await flusher.flush(), "reloaded and sent again within the same flush")
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(9), in: guild)?.xp == 31)
        await redis.close()
    }
}
