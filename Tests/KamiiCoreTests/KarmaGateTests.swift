import DiscordModels
@testable import KamiiCore
import Testing

struct KarmaGateTests {
    static func reaction(from giver: UInt64, to receiver: UInt64) -> ReactionFields {
        ReactionFields(guildID: 1, channelID: 2, messageID: 3, userID: giver, messageAuthorID: receiver)
    }

    /// A busy guild with a day-long pair cooldown: every new pair gives karma, every pair cooling
    /// down gives none, and the cooldowns are compacted now and then — not on every reaction once
    /// more than the capacity are running.
    @Test func manyRunningCooldownsAreKeptWithoutCompactingOnEveryReaction() {
        var gate = KarmaGate()
        let rules = KarmaRules(emoji: ["👍"], cooldownMilliseconds: 86_400_000)
        let pairs = 3 * KarmaGate.capacity
        for giver in 1...UInt64(pairs) {
            #expect(gate.give(Self.reaction(from: giver, to: 1_000_000), rules: rules, now: 1_000 + giver) == 1_000_000)
        }
        #expect(gate.compactions <= 2, "compacted \(gate.compactions) times")
        #expect(gate.give(Self.reaction(from: 1, to: 1_000_000), rules: rules, now: 50_000) == nil, "still cooling down")
        #expect(gate.give(Self.reaction(from: 1, to: 1_000_000), rules: rules, now: 1_001 + 86_400_000) == 1_000_000, "cooled down")
    }

    /// Without a cooldown nothing needs keeping: the pairs are dropped at the capacity.
    @Test func withoutACooldownEveryReactionGives() {
        var gate = KarmaGate()
        let rules = KarmaRules(emoji: ["👍"], cooldownMilliseconds: 0)
        for round in 0..<3 as Range<UInt64> {
            for giver in 1...UInt64(KarmaGate.capacity + 1) {
                #expect(gate.give(Self.reaction(from: giver, to: 1_000_000), rules: rules, now: 10 + round) == 1_000_000)
            }
        }
        #expect(gate.give(Self.reaction(from: 7, to: 7), rules: rules, now: 20) == nil, "no self-karma")
    }
}
