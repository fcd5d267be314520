import DiscordModels
@testable import KamiiCore
import Testing

struct KarmaGateTests {
    static func reaction(from giver: UInt64, to receiver: UInt64?, giverIsBot: Bool = false) -> ReactionFields {
        ReactionFields(guildID: 1, channelID: 2, messageID: 3, userID: giver, messageAuthorID: receiver, userIsBot: giverIsBot)
    }

    /// No karma to oneself, from a bot or to a bot (known from its own messages or member events),
    /// nor for a message whose author the event does not name; a bot's removal takes nothing back.
    @Test func selfKarmaAndBotsGiveNothing() {
        var gate = KarmaGate()
        #expect(gate.receiver(of: Self.reaction(from: 1, to: 2)) == 2)
        #expect(gate.receiver(of: Self.reaction(from: 1, to: 2)) == 2, "the pair cooldown is the flush's")
        #expect(gate.receiver(of: Self.reaction(from: 7, to: 7)) == nil)
        #expect(gate.receiver(of: Self.reaction(from: 1, to: nil)) == nil)
        #expect(gate.receiver(of: Self.reaction(from: 5, to: 2, giverIsBot: true)) == nil)
        gate.noteBot(9)
        #expect(gate.receiver(of: Self.reaction(from: 9, to: 2)) == nil)
        #expect(gate.receiver(of: Self.reaction(from: 1, to: 9)) == nil)
        #expect(!gate.mayTakeBack(Self.reaction(from: 9, to: 2)) && gate.mayTakeBack(Self.reaction(from: 1, to: 2)))
    }

    /// The bots it remembers are bounded: past the capacity, new ones are not kept — and are sent
    /// to Redis at every sighting, since Redis alone will know them.
    @Test func rememberedBotsAreBounded() {
        var gate = KarmaGate()
        for bot in 1...UInt64(KarmaGate.capacity + 10) {
            gate.noteBot(bot)
            let sent = gate.reports(bot, at: 0)
            #expect(sent)
        }
        #expect(gate.receiver(of: Self.reaction(from: 1, to: 2)) == nil)
        let unkept = UInt64(KarmaGate.capacity + 5)
        #expect(gate.receiver(of: Self.reaction(from: unkept, to: unkept + 1)) == unkept + 1, "not kept past the capacity")
        let (keptAgain, unkeptAgain, unkeptOnceMore) = (gate.reports(1, at: 1), gate.reports(unkept, at: 1), gate.reports(unkept, at: 2))
        #expect(!keptAgain, "a kept one is sent once")
        #expect(unkeptAgain && unkeptOnceMore, "one not kept is sent each time it is seen")
    }

    /// A bot sent to the flush is sent again when seen an hour or more later (a Redis that lost
    /// `:bots` learns it again), not before.
    @Test func aBotIsSentAgainHourly() {
        var gate = KarmaGate()
        let hour = KarmaGate.reportMilliseconds
        gate.noteBot(9)
        let sightings = [1_000, 1_000 + hour - 1, 1_000 + hour, 1_000 + hour + 5, 1_000 + 3 * hour].map { gate.reports(9, at: $0) }
        #expect(sightings == [true, false, true, false, true])
        let earlier = gate.reports(9, at: 500)
        #expect(!earlier, "a clock read earlier than the last report sends nothing")
    }
}
