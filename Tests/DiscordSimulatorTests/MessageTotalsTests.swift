import DiscordModels
import Testing
@testable import DiscordSimulator

/// The ground truth's open-addressing table of message counters, held to a `Dictionary` doing the
/// same updates: lookups through long probe runs, growth from its first 1,024 slots, and reads that
/// merge it with the rest of a member.
struct MessageTotalsTests {
    private struct Pair: Hashable {
        let guild: UInt64
        let user: UInt64
    }

    @Test func agreesWithADictionaryThroughGrowth() {
        var table = MessageTotals()
        var model: [Pair: MessageTotals.Totals] = [:]
        // A fixed seed, so a failure names the same pairs every run.
        var random = SeededRandom(seed: 7)
        // Snowflake-like IDs: a few guilds, users whose IDs differ only in their middle bits — the
        // keys the hash has to spread. 30,000 updates over ≈ 12,000 pairs: the table grows 4 times.
        let guilds = (0..<8).map { UInt64(1_100_000_000_000_000_000) + UInt64($0) << 22 }
        for step in 0..<30_000 {
            let pair = Pair(guild: guilds[Int(random.next() % 8)], user: UInt64(1_000_000_000_000_000_000) + (random.next() % 1_500) << 22)
            let earns = step % 3 == 0
            let change: (inout MessageTotals.Totals) -> Void = { totals in
                totals.messages += 1
                guard earns else { return }
                totals.messagesEarningXP += 1
                totals.xp += 15 + step % 11
                totals.lastXPAt = UInt64(step)
            }
            table.update(guild: GuildID(pair.guild), user: UserID(pair.user), change)
            change(&model[pair, default: MessageTotals.Totals()])
        }
        #expect(table.count == model.count)
        #expect(model.count > 10_000, "enough pairs to grow the table several times")
        for (pair, totals) in model {
            #expect(table.totals(guild: GuildID(pair.guild), user: UserID(pair.user)) == totals)
        }
        var visited: [Pair: MessageTotals.Totals] = [:]
        table.forEach { guild, user, totals in
            #expect(visited.updateValue(totals, forKey: Pair(guild: guild.rawValue, user: user.rawValue)) == nil, "each pair once")
        }
        #expect(visited == model)
        // Pairs never updated: absent, even where their probe runs through a crowded stretch.
        for user in 1_500..<1_600 {
            #expect(table.totals(guild: GuildID(guilds[0]), user: UserID(UInt64(1_000_000_000_000_000_000) + UInt64(user) << 22)) == nil)
        }
    }

    @Test func keepsNoXPYetApartFromXPAtTimeZero() {
        var table = MessageTotals()
        let guild = GuildID(1 << 30)
        table.update(guild: guild, user: UserID(1 << 31)) { $0.messages += 1 }
        table.update(guild: guild, user: UserID(2 << 31)) { totals in
            totals.messages += 1
            totals.lastXPAt = 0
        }
        #expect(table.totals(guild: guild, user: UserID(1 << 31)) == MessageTotals.Totals(messages: 1))
        #expect(table.totals(guild: guild, user: UserID(2 << 31))?.lastXPAt == 0)
        // Same user, another guild: a pair of its own.
        #expect(table.totals(guild: GuildID(2 << 30), user: UserID(1 << 31)) == nil)
    }

    @Test func aMembersReadMergesMessagesWithEverythingElse() {
        let truth = GroundTruth()
        let guild = GuildID(1 << 30)
        let poster = UserID(5 << 30), reactor = UserID(6 << 30)
        let channel = ChannelID(1 << 32)
        let id = MessageID(unixMilliseconds: 1_795_000_000_000, increment: 1)
        truth.apply(.message(guild: guild, author: poster, id: id, earnsXP: true, channel: channel, parent: nil, roles: []))
        truth.apply(.reaction(guild: guild, giver: reactor, receiver: poster, emoji: "👍", added: true, giverIsBot: false, receiverIsBot: false))
        let posted = truth.member(poster, in: guild)
        #expect(posted.messages == 1 && posted.messagesEarningXP == 1 && posted.lastXPAt == id.unixMilliseconds)
        #expect(posted.xp == GroundTruth.xpRoll(messageID: id, rules: truth.rules))
        #expect(posted.karma == 1 && posted.reactionsReceived == ["👍": 1])
        let reacted = truth.member(reactor, in: guild)
        #expect(reacted.messages == 0 && reacted.lastXPAt == nil && reacted.reactionsGiven == ["👍": 1])
        #expect(truth.all == [guild: [poster: posted, reactor: reacted]])
        #expect(truth.xp(in: guild) == [poster: posted.xp])
        #expect(truth.member(UserID(7 << 30), in: guild) == GroundTruth.Member())
    }
}
