import DiscordGateway
import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiStore
import KamiiTestSupport
import Testing

/// Karma as the flush applies it: Redis's ledger of the reactions that gave karma decides what a
/// reaction gives and a removal takes back, across flushes, processes and replays.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct KarmaLedgerTests {
    let guild = GuildID((UInt64.random(in: 1...(1 << 40))) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    func member(_ user: UInt64, _ redis: RedisClient) async throws -> MemberRecord? {
        try await StatsReader(redis: redis, keys: keys).member(UserID(user), in: guild)
    }

    /// Flushes `reactions` of the guild, as a process of its own would (a fresh buffer and flusher).
    func flush(_ reactions: [GuildStatsBatch.KarmaReaction], _ redis: RedisClient, cooldown: UInt64 = 0) async -> Bool {
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        for reaction in reactions { buffer.record(guild: guild.rawValue) { $0.record(reaction, cooldownMilliseconds: cooldown) } }
        return await flusher.flush()
    }

    /// Redis's karma ledger decides: a reaction gives once however often it arrives (a replay after a
    /// restart), a removal takes back what its reaction gave — from another process, an actor that
    /// never saw the reaction — and a removal of a reaction that gave nothing takes nothing.
    @Test func theKarmaLedgerGivesOnceAndTakesBackWhatWasGiven() async throws {
        let redis = try RedisTestServer.client()
        let thumbs = KarmaRules.emojiKey("👍")
        let first = GuildStatsBatch.recentMessageID(), second = first + 1, unknown = first + 2
        func flush(_ reactions: [GuildStatsBatch.KarmaReaction]) async -> Bool { await self.flush(reactions, redis) }
        let given = GuildStatsBatch.KarmaReaction(message: first, giver: 1, emoji: thumbs, receiver: 2)
        #expect(await flush([given, given, .init(message: second, giver: 3, emoji: thumbs, receiver: 2)]))
        #expect(try await member(2, redis)?.karma == 2)
        #expect(await flush([given]), "replayed in a later flush")
        #expect(try await member(2, redis)?.karma == 2)
        // Removals say nothing of the receiver: the ledger knows.
        #expect(await flush([
            .init(message: first, giver: 1, emoji: thumbs, receiver: nil), .init(message: first, giver: 1, emoji: thumbs, receiver: nil),
            .init(message: unknown, giver: 1, emoji: thumbs, receiver: nil), .init(message: second, giver: 3, emoji: 7, receiver: nil),
        ]))
        #expect(try await member(2, redis)?.karma == 1)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), "2").int == 1)
        #expect(try await redis.send("SISMEMBER", keys.dirtyMembers(in: guild), "2").int == 1)
        // Given again after its removal: counts again.
        #expect(await flush([given]))
        #expect(try await member(2, redis)?.karma == 2)
        // Remembered for the karma memory past the end of the message's week.
        let week = MessageID(first).unixMilliseconds / StatsKeys.karmaWeekMilliseconds
        let expiry = try #require(try await redis.send("PEXPIRETIME", keys.karmaLedger(in: guild, week: week)).int)
        #expect(expiry == Int((week + 1) * StatsKeys.karmaWeekMilliseconds) + Int(StatsFlusher.Configuration.defaultKarmaMemory / .milliseconds(1)))
        await redis.close()
    }

    /// A member's normal and super reaction with the same emoji on one message are two entries of
    /// the ledger: removing the super reaction takes back what it gave, not what the normal one did.
    @Test func aSuperReactionsRemovalLeavesTheNormalOnesKarma() async throws {
        let redis = try RedisTestServer.client()
        let (thumbs, superThumbs) = (KarmaRules.emojiKey("👍"), KarmaRules.emojiKey("👍", burst: true))
        let message = GuildStatsBatch.recentMessageID()
        func flush(_ reactions: [GuildStatsBatch.KarmaReaction]) async -> Bool { await self.flush(reactions, redis) }
        #expect(await flush([.init(message: message, giver: 1, emoji: thumbs, receiver: 2), .init(message: message, giver: 1, emoji: superThumbs, receiver: 2)]))
        #expect(try await member(2, redis)?.karma == 2)
        #expect(await flush([.init(message: message, giver: 1, emoji: superThumbs, receiver: nil)]))
        #expect(try await member(2, redis)?.karma == 1, "the normal reaction is still there")
        #expect(await flush([.init(message: message, giver: 1, emoji: thumbs, receiver: nil)]))
        #expect(try await member(2, redis)?.karma == 0)
        await redis.close()
    }

    /// A reaction given while the guild's list spelt a custom emoji `name:id` is taken back by its
    /// removal after an admin respelt the list (the bare name) or dropped the emoji, in a process of
    /// its own: the ledger keys it by the emoji's ID, whatever the list says. (Keyed by the list's
    /// text, the removal missed the entry and the karma stayed.)
    @Test func aRemovalAfterTheEmojiListChangedTakesBackWhatItsReactionGave() async throws {
        let redis = try RedisTestServer.client()
        let message = GuildStatsBatch.recentMessageID()
        func route(_ name: String, giver: UInt64, list: [String]) async -> Bool {
            var config = GuildConfig()
            config.modules.karma = true
            config.karma.emoji = list
            let buffer = StatsBuffer()
            let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(GuildSettings(config)))
            let author = name == "MESSAGE_REACTION_ADD" ? #""message_author_id":"2","member":{"user":{"id":"\#(giver)"}},"# : ""
            let data = #"{"user_id":"\#(giver)","message_id":"\#(message)",\#(author)"emoji":{"name":"upvote","id":"123456789012345678"},"channel_id":"7","guild_id":"\#(guild.rawValue)"}"#
            await router.route(ShardDispatch(payload: Array(#"{"op":0,"s":1,"t":"\#(name)","d":\#(data)}"#.utf8))!)
            return await StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys)).flush()
        }
        #expect(await route("MESSAGE_REACTION_ADD", giver: 1, list: ["upvote:123456789012345678"]))
        #expect(await route("MESSAGE_REACTION_ADD", giver: 3, list: ["upvote:123456789012345678"]))
        #expect(try await member(2, redis)?.karma == 2)
        #expect(await route("MESSAGE_REACTION_REMOVE", giver: 1, list: ["upvote"]))
        #expect(try await member(2, redis)?.karma == 1, "respelt")
        #expect(await route("MESSAGE_REACTION_REMOVE", giver: 3, list: ["⭐"]))
        #expect(try await member(2, redis)?.karma == 0, "dropped from the list")
        await redis.close()
    }

    /// A bot an actor saw gets no karma from an actor that has not seen it — evicted, or another
    /// process — as when members react to a bot's role menu after a restart: Redis keeps the bots.
    @Test func aBotSeenByOneActorGetsNoKarmaThroughAnother() async throws {
        let redis = try RedisTestServer.client()
        let message = GuildStatsBatch.recentMessageID()
        func process(_ name: String, _ data: String) async -> Bool {
            var config = GuildConfig()
            config.modules.karma = true
            config.karma.cooldownSeconds = 0
            let buffer = StatsBuffer()
            let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(GuildSettings(config)))
            await router.route(ShardDispatch(payload: Array(#"{"op":0,"s":1,"t":"\#(name)","d":\#(data)}"#.utf8))!)
            return await StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys)).flush()
        }
        func reaction(to author: UInt64) -> String {
            #"{"user_id":"1","message_id":"\#(message)","message_author_id":"\#(author)","member":{"user":{"id":"1"}},"emoji":{"name":"👍","id":null},"channel_id":"7","guild_id":"\#(guild.rawValue)"}"#
        }
        #expect(await process("MESSAGE_CREATE", #"{"id":"\#(message)","channel_id":"7","guild_id":"\#(guild.rawValue)","type":0,"author":{"id":"9","bot":true},"content":""}"#))
        #expect(try await redis.send("SMEMBERS", keys.bots(in: guild)).array?.compactMap(\.string) == ["9"])
        #expect(await process("MESSAGE_REACTION_ADD", reaction(to: 9)))
        #expect(try await member(9, redis) == nil)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), "9").string == nil)
        #expect(await process("MESSAGE_REACTION_ADD", reaction(to: 2)))
        #expect(try await member(2, redis)?.karma == 1, "a member's message still gives")
        await redis.close()
    }

    /// A message's reactions cleared (MESSAGE_REACTION_REMOVE_EMOJI, or _ALL) take back what each
    /// reaction with that emoji (or any) on that message gave, and nothing else.
    @Test func aClearTakesBackEveryGiversReactionWithItsEmoji() async throws {
        let redis = try RedisTestServer.client()
        let (thumbs, star) = (KarmaRules.emojiKey("👍"), KarmaRules.emojiKey("⭐"))
        let message = GuildStatsBatch.recentMessageID(), other = message + 1
        let buffer = StatsBuffer()
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        func flush(_ reactions: [GuildStatsBatch.KarmaReaction]) async {
            for reaction in reactions { buffer.record(guild: guild.rawValue) { $0.record(reaction) } }
            #expect(await flusher.flush())
        }
        await flush([
            .init(message: message, giver: 1, emoji: thumbs, receiver: 2), .init(message: message, giver: 3, emoji: thumbs, receiver: 2),
            .init(message: message, giver: 4, emoji: star, receiver: 2), .init(message: other, giver: 1, emoji: thumbs, receiver: 5),
        ])
        #expect(try await member(2, redis)?.karma == 3)
        await flush([.cleared(message, emoji: thumbs)])
        #expect(try await member(2, redis)?.karma == 1, "both thumbs on the message taken back, the star kept")
        #expect(try await member(5, redis)?.karma == 1, "another message's untouched")
        await flush([.cleared(message, emoji: thumbs)])
        #expect(try await member(2, redis)?.karma == 1, "cleared twice: nothing more taken")
        await flush([.init(message: message, giver: 1, emoji: thumbs, receiver: 2)])
        #expect(try await member(2, redis)?.karma == 2, "given again after the clear: counts again")
        // One clear, several keys (normal and super, the emoji's own and the configured text's):
        // one pass takes back what any of them gave, and leaves another emoji's.
        let (superThumbs, upvote) = (KarmaRules.emojiKey("👍", burst: true), KarmaRules.emojiKey("upvote:1"))
        await flush([
            .init(message: message, giver: 3, emoji: superThumbs, receiver: 2), .init(message: message, giver: 6, emoji: upvote, receiver: 2),
        ])
        #expect(try await member(2, redis)?.karma == 4)
        await flush([.cleared(message, emojiKeys: [thumbs, superThumbs, upvote])])
        #expect(try await member(2, redis)?.karma == 1, "thumbs, super thumbs and the upvote taken back; the star kept")
        await flush([.init(message: message, giver: 1, emoji: thumbs, receiver: 2)])
        await flush([.cleared(message, emoji: nil)])
        #expect(try await member(2, redis)?.karma == 0, "every emoji's")
        #expect(try await member(5, redis)?.karma == 1)
        #expect(try await redis.send("ZSCORE", keys.leaderboard(.karma, in: guild), "2").int == 0)
        await redis.close()
    }

    /// A reaction to a message older than the karma memory is remembered from when it gave karma;
    /// a week's ledger never expires sooner than it was told (a shorter memory set later).
    @Test func anOldMessagesReactionIsRememberedFromNow() async throws {
        let redis = try RedisTestServer.client()
        let yearAgo = UInt64(Date().timeIntervalSince1970 * 1_000) - 365 * 86_400_000
        let message = (yearAgo - 1_420_070_400_000) << 22
        let week = yearAgo / StatsKeys.karmaWeekMilliseconds
        let ledger = keys.karmaLedger(in: guild, week: week)
        func give(from giver: UInt64, memory: Duration) async throws -> Int {
            let buffer = StatsBuffer()
            let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys, karmaMemory: memory))
            buffer.record(guild: guild.rawValue) { $0.record(.init(message: message, giver: giver, emoji: 1, receiver: 2)) }
            #expect(await flusher.flush())
            return try #require(try await redis.send("PEXPIRETIME", ledger).int)
        }
        let before = Int(Date().timeIntervalSince1970 * 1_000)
        let expiry = try await give(from: 1, memory: .seconds(30 * 86_400))
        #expect(expiry >= before + 30 * 86_400_000 && expiry <= Int(Date().timeIntervalSince1970 * 1_000) + 30 * 86_400_000)
        #expect(try await give(from: 3, memory: .seconds(86_400)) == expiry, "not shortened")
        #expect(try await redis.send("PEXPIRETIME", keys.karmaIndex(in: guild, week: week)).int == expiry, "nor the index's")
        let longer = try await give(from: 4, memory: .seconds(60 * 86_400))
        #expect(longer > expiry)
        #expect(try await redis.send("PEXPIRETIME", keys.karmaIndex(in: guild, week: week)).int == longer, "the index runs out with its ledger")
        #expect(try await member(2, redis)?.karma == 3)
        await redis.close()
    }

    /// A pair's cooldown is Redis's as well as the actor's: a reaction the pair gives within it counts
    /// for nothing even from an actor that never saw the first (evicted, or a restarted process), and
    /// is not put in the ledger; reactions of one pair flushed late together still count apart when
    /// the bot received them a cooldown apart, and one held back longer than the cooldown still
    /// holds back the next. Without a cooldown nothing is kept.
    @Test func aKarmaPairCooldownOutlivesTheActorThatStartedIt() async throws {
        let redis = try RedisTestServer.client()
        let thumbs = KarmaRules.emojiKey("👍")
        // Received a second in the future (a clock a little ahead): the key's expiry is then the
        // reaction's own time plus the cooldown, not the flush's.
        let now = UInt64(Date().timeIntervalSince1970 * 1_000) + 1_000
        let minute: UInt64 = 60_000
        func flush(_ reactions: [GuildStatsBatch.KarmaReaction], cooldown: UInt64 = 60_000) async -> Bool {
            await self.flush(reactions, redis, cooldown: cooldown)
        }
        func give(_ giver: UInt64, at time: UInt64) -> GuildStatsBatch.KarmaReaction {
            .init(message: GuildStatsBatch.recentMessageID(), giver: giver, emoji: thumbs, receiver: 2, givenAt: time)
        }
        let pair = keys.karmaPair(in: guild, giver: UserID(1), receiver: UserID(2))
        #expect(await flush([give(1, at: now)]))
        #expect(try await member(2, redis)?.karma == 1)
        #expect(try await redis.send("GET", pair).string == String(now))
        #expect(try await redis.send("PEXPIRETIME", pair).int == Int(now + minute), "a cooldown from when it was received")
        // A second later, from a fresh buffer and flusher (as after a restart): still cooling down.
        let early = give(1, at: now + 1_000)
        #expect(await flush([early]))
        #expect(try await member(2, redis)?.karma == 1)
        var removal = early
        removal.receiver = nil
        removal.givenAt = 0
        #expect(await flush([removal]))
        #expect(try await member(2, redis)?.karma == 1, "the ledger never had it: its removal takes nothing")
        // A cooldown later it counts, and the pair cools down from then.
        #expect(await flush([give(1, at: now + minute)]))
        #expect(try await member(2, redis)?.karma == 2)
        #expect(try await redis.send("GET", pair).string == String(now + minute))
        // Held back and flushed together: a cooldown apart both count, a second apart only the first.
        #expect(await flush([give(3, at: now), give(3, at: now + minute), give(4, at: now), give(4, at: now + 1_000)]))
        #expect(try await member(2, redis)?.karma == 5)
        // Held back longer than the cooldown (Redis away): the pair's key is kept a cooldown from
        // the flush, so the next reaction of the same backlog, flushed later, still finds it.
        let long = now - 2 * minute
        #expect(await flush([give(6, at: long)]))
        let sixPair = keys.karmaPair(in: guild, giver: UserID(6), receiver: UserID(2))
        let expiry = try #require(try await redis.send("PEXPIRETIME", sixPair).int)
        #expect(expiry >= Int(now - 1_000 + minute) && expiry <= Int(UInt64(Date().timeIntervalSince1970 * 1_000) + minute), "from the flush")
        #expect(try await redis.send("GET", sixPair).string == String(long))
        #expect(await flush([give(6, at: long + 1_000)]))
        #expect(try await member(2, redis)?.karma == 6)
        // Another pair, another cooldown; no cooldown, no key.
        #expect(await flush([give(5, at: now)], cooldown: 0))
        #expect(try await member(2, redis)?.karma == 7)
        #expect(try await redis.send("EXISTS", keys.karmaPair(in: guild, giver: UserID(5), receiver: UserID(2))).int == 0)
        let running = try await KarmaPairCooldowns(redis: redis, keys: keys).running(in: guild)
        #expect(running.map(\.giver.rawValue) == [1, 3, 4, 6] && running.allSatisfy { $0.receiver.rawValue == 2 })
        #expect(try await KarmaPairCooldowns(redis: redis, keys: keys).forget(UserID(3)) == [guild])
        #expect(try await KarmaPairCooldowns(redis: redis, keys: keys).running(naming: UserID(2)).map(\.giver.rawValue) == [1, 4, 6])
        await redis.close()
    }

    /// A user's privacy deletion takes the karma pair cooldowns they are in, as giver or receiver,
    /// and remembers the deletion in that guild; other pairs stay.
    @Test func aUsersDeletionTakesTheirKarmaPairCooldowns() async throws {
        let redis = try RedisTestServer.client()
        for (giver, receiver) in [(1, 2), (2, 3), (4, 5)] as [(UInt64, UInt64)] {
            try await redis.send("SET", keys.karmaPair(in: guild, giver: UserID(giver), receiver: UserID(receiver)), "1764000000000", "EX", "60")
        }
        #expect(try await StatsPurge(redis: redis, keys: keys).purge(UserID(2)) == 0, "no record of theirs")
        let left = try await KarmaPairCooldowns(redis: redis, keys: keys).running(in: guild)
        #expect(left.map { [$0.giver.rawValue, $0.receiver.rawValue] } == [[4, 5]])
        #expect(try await redis.send("HEXISTS", keys.deletions(in: guild), "2").int == 1)
        await redis.close()
    }

    /// Karma for more than a thousand members who are not among the batch's members (the ledger's
    /// receivers) is read and written a thousand at a time too.
    @Test func thousandsOfKarmaReceiversAreAppliedInParts() async throws {
        let redis = try RedisTestServer.client()
        let buffer = StatsBuffer(capacity: 100_000, flushThreshold: 100_000)
        let flusher = StatsFlusher(buffer: buffer, redis: redis, configuration: .init(keys: keys))
        let receivers = (UInt64(1)...1_500).map { $0 << 22 }
        buffer.record(guild: guild.rawValue) { batch in
            batch.countMessage(by: 7)
            for receiver in receivers { batch.giveKarma(to: receiver) }
        }
        #expect(await flusher.flush())
        let records = try await StatsReader(redis: redis, keys: keys).members(of: guild)
        #expect(records.count == receivers.count + 1)
        #expect(receivers.allSatisfy { records[UserID($0)]?.karma == 1 })
        #expect(try await redis.send("ZCARD", keys.leaderboard(.karma, in: guild)).int == receivers.count)
        // Receivers outside the batch are known to the script alone: its dirty set names them.
        #expect(try await redis.send("SCARD", keys.dirtyMembers(in: guild)).int == receivers.count)
        await redis.close()
    }
}
