import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// A privacy request's Redis half: what `kamii data delete` removes before SQL.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct StatsPurgeTests {
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let guilds = [GuildID(UInt64.random(in: 1...(1 << 40)) << 22), GuildID(UInt64.random(in: 1...(1 << 40)) << 22 | 1)]

    private func fill(_ redis: RedisClient) async throws {
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for guild in guilds {
            for user in [UInt64(11), 12] {
                buffer.record(guild: guild.rawValue) { batch in
                    batch.countMessage(by: user)
                    batch.grant(.init(user: user, messageTime: 1_700_000_000_000, xp: 20), cooldownMilliseconds: 60_000)
                    batch.giveKarma(to: user)
                    if user == 12 {  // and one reaction of 11's gave 12 karma, whose pair cooldown runs for an hour
                        let now = UInt64(Date().timeIntervalSince1970 * 1_000)
                        batch.record(
                            .init(message: GuildStatsBatch.recentMessageID(), giver: 11, emoji: KarmaRules.emojiKey("👍"), receiver: 12, givenAt: now),
                            cooldownMilliseconds: 3_600_000)
                    }
                }
            }
        }
        #expect(await flusher.flush())
    }

    @Test func aUsersStatsLeaveEveryGuildAndNothingElse() async throws {
        let redis = try RedisTestServer.client()
        try await fill(redis)
        for guild in guilds {
            try await redis.send("SADD", keys.dirtyMembers(in: guild), "11", "12")
            try await redis.send("HSET", keys.waitingJoins(in: guild), "11", "1", "12", "1")
            #expect(try await redis.send("EXISTS", keys.karmaPair(in: guild, giver: UserID(11), receiver: UserID(12))).int == 1)
            try await redis.send("SET", keys.karmaPair(in: guild, giver: UserID(13), receiver: UserID(12)), "1", "PX", "3600000")
        }
        let before = try await redisTime(redis)
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(UserID(11)) == 2)
        for guild in guilds {
            #expect(try await redis.send("EXISTS", keys.karmaPair(in: guild, giver: UserID(11), receiver: UserID(12))).int == 0)
            #expect(try await redis.send("EXISTS", keys.karmaPair(in: guild, giver: UserID(13), receiver: UserID(12))).int == 1, "others' pairs stay")
            #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(11), in: guild) == nil)
            #expect(try await redis.send("ZSCORE", keys.leaderboard(.xp, in: guild), "11").isNull)
            #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), "11").isNull)
            #expect(try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), "11").int == 1, "a mark stays for the next checkpoint")
            #expect(try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), "12").int == 1)
            #expect(try await redis.send("HKEYS", keys.waitingJoins(in: guild)).array?.compactMap(\.string) == ["12"], "their join waits no more")
            #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(12), in: guild)?.xp == 20, "others keep theirs")
            try await expectRemembered(redis, keys.deletions(in: guild), fields: ["11"], since: before)
            var receivers: [String] = []
            for ledger in try await redis.keys(matching: keys.guildPrefix(guild) + "karma:*") {
                receivers += try await redis.send("HVALS", ledger).array?.compactMap(\.string) ?? []
            }
            #expect(receivers == ["12"], "the karma ledger forgets the reactions they gave and got")
        }
        await redis.close()
    }

    /// A ledger too big for one page of HSCAN (a busy week) loses every entry naming the user, and
    /// only those.
    @Test func aUsersLedgerEntriesGoFromALargeLedger() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer(capacity: 100_000, flushThreshold: 100_000)
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let message = GuildStatsBatch.recentMessageID()
        let thumbs = KarmaRules.emojiKey("👍")
        buffer.record(guild: guilds[0].rawValue) { batch in
            for k in UInt64(0)..<2_500 {
                batch.record(.init(message: message + k, giver: 11, emoji: thumbs, receiver: 20 + k))  // given by 11
                batch.record(.init(message: message + k, giver: 12, emoji: thumbs, receiver: 11))  // given to 11
                batch.record(.init(message: message + k, giver: 13, emoji: thumbs, receiver: 14))  // neither
            }
        }
        #expect(await flusher.flush())
        try await StatsPurge(redis: redis, keys: keys).purge(UserID(11))
        let week = MessageID(message).unixMilliseconds / StatsKeys.karmaWeekMilliseconds
        let left = try await redis.send("HGETALL", keys.karmaLedger(in: guilds[0], week: week)).array?.compactMap(\.string) ?? []
        #expect(left.count == 2 * 2_500)
        #expect(stride(from: 0, to: left.count, by: 2).allSatisfy { left[$0].contains(":13:") && left[$0 + 1] == "14" })
        let indexed = try await redis.send("ZRANGE", keys.karmaIndex(in: guilds[0], week: week), "0", "-1").array?.compactMap(\.string) ?? []
        #expect(indexed.count == 2_500 + 1 && indexed.allSatisfy { $0.contains(":13:") || $0 == StatsKeys.karmaIndexedMarker }, "the index forgets them too")
        await redis.close()
    }

    /// The ledger lives only in Redis, so a privacy export reads it there: a user's entries (given or
    /// received) in every guild, or a guild's every entry.
    @Test func theKarmaLedgerIsExported() async throws {
        let redis = try RedisTestServer.client()
        try await fill(redis)
        let export = KarmaLedger(redis: redis, keys: keys)
        let mine = try await export.entries(of: UserID(11))
        #expect(mine.count == 4, "per guild: one reaction gave 11 karma, 11 gave one")
        #expect(mine.allSatisfy { $0.giver == 11 || $0.receiver == 11 })
        #expect(Set(mine.map(\.guild)) == Set(guilds.map(\.rawValue)))
        let guild = try await export.entries(of: guilds[0])
        #expect(guild.count == 3 && guild.allSatisfy { $0.guild == guilds[0].rawValue && $0.emojiKey == KarmaRules.emojiKey("👍") })
        #expect(try await export.entries(of: UserID(99)).isEmpty)
        await redis.close()
    }

    @Test func aGuildsStatsGoEntirely() async throws {
        let redis = try RedisTestServer.client()
        try await fill(redis)
        let before = try await redisTime(redis)
        let deleted = try await StatsPurge(redis: redis, keys: keys).purge(guilds[0])
        #expect(deleted >= 4, "the members hash, two leaderboards, the karma ledger")
        let left = Set((try await redis.send("KEYS", keys.guildPrefix(guilds[0]) + "*").array ?? []).compactMap(\.string))
        #expect(left == [keys.members(in: guilds[0]), keys.deletions(in: guilds[0])], "the marker, saying not to reload from SQL, and the deletion")
        try await expectRemembered(redis, keys.deletions(in: guilds[0]), fields: [StatsKeys.wholeGuild], since: before)
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(guilds[0]) == 1, "again: the members hash, not the deletion")
        #expect(try await redis.send("EXISTS", keys.deletions(in: guilds[1])).int == 0)
        let marker = try await redis.send("HMGET", keys.members(in: guilds[0]), StatsKeys.batchField, StatsKeys.deletedField).array?.map(\.string)
        #expect(marker?.first == "hydrated" && marker?.last??.isEmpty == false)
        #expect(try await redis.send("HLEN", keys.members(in: guilds[0])).int == 2, "no member left")
        #expect(try await redis.send("SISMEMBER", keys.dirtyGuilds, String(guilds[0].rawValue)).int == 0)
        #expect(try await redis.send("SISMEMBER", keys.dirtyGuilds, String(guilds[1].rawValue)).int == 1)
        #expect(try await StatsReader(redis: redis, keys: keys).member(UserID(11), in: guilds[1])?.xp == 20)
        await redis.close()
    }

    private func redisTime(_ redis: RedisClient) async throws -> Int64 {
        let parts = try #require(try await redis.send("TIME").array?.compactMap { $0.string.flatMap(Int64.init) })
        return parts[0] * 1_000 + parts[1] / 1_000
    }

    /// The deletions hash names exactly `fields`, each at a time no earlier than `since` nor later
    /// than now, and expires within a day.
    private func expectRemembered(_ redis: RedisClient, _ key: String, fields: Set<String>, since: Int64) async throws {
        let all = try await redis.send("HGETALL", key).array?.compactMap(\.string) ?? []
        let remembered = Dictionary(uniqueKeysWithValues: stride(from: 0, to: all.count, by: 2).map { (all[$0], Int64(all[$0 + 1])) })
        #expect(Set(remembered.keys) == fields)
        let now = try await redisTime(redis)
        #expect(remembered.values.allSatisfy { $0.map { (since...now).contains($0) } == true }, "\(remembered), \(since)...\(now)")
        let lifetime = try await redis.send("PTTL", key).int ?? -1
        #expect(lifetime > 0 && lifetime <= StatsKeys.tombstoneLifetimeMilliseconds)
    }

    /// A purge Redis could not carry out whole says so: the script remembering the deletion fails
    /// inside MULTI/EXEC (the deletions key not a hash), and EXEC's own reply is no error.
    @Test func aGuildPurgeWhoseTransactionFailedInsideIsAnError() async throws {
        let redis = try RedisTestServer.client()
        let guild = guilds[0]
        try await redis.send("HSET", keys.members(in: guild), "77", "a record")
        try await redis.send("SET", keys.deletions(in: guild), "not a hash")
        await #expect(throws: (any Error).self) { try await StatsPurge(redis: redis, keys: keys).purge(guild) }
        _ = try await redis.send("DEL", keys.members(in: guild), keys.deletions(in: guild))
        await redis.close()
    }
}
