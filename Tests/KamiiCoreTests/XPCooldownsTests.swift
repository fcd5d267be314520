@testable import KamiiCore
import Testing

/// The rule by which a guild actor holds a message back only when Redis would refuse it too.
struct XPCooldownsTests {
    let minute: UInt64 = 60_000

    /// Judges and, unless held back, sends a message of `member` at `second`.
    func judge(_ cooldowns: inout XPCooldowns, _ member: UInt64, atSecond second: UInt64) -> XPCooldowns.Verdict {
        let verdict = cooldowns.verdict(for: member, at: second * 1_000, cooldown: minute)
        cooldowns.sent(verdict, by: member, at: second * 1_000)
        return verdict
    }

    /// A message may carry a time earlier than the actor's first (snowflakes are not quite in the
    /// gateway's order): a member in doubt stays so until a cooldown past the later of their last
    /// candidate and the window after the first message.
    @Test func aCandidateOlderThanTheFirstMessageKeepsItsMemberInDoubtThroughTheWindow() {
        var cooldowns = XPCooldowns()
        #expect(judge(&cooldowns, 1, atSecond: 100) == .candidate)
        #expect(judge(&cooldowns, 2, atSecond: 95) == .candidate)
        #expect(judge(&cooldowns, 2, atSecond: 160) == .candidate, "a cooldown after 95 s, but within 100 + 10 + 60 s")
        #expect(judge(&cooldowns, 2, atSecond: 221) == .grant)
        #expect(judge(&cooldowns, 2, atSecond: 250) == .coolingDown)
        #expect(judge(&cooldowns, 3, atSecond: 171) == .grant, "first seen past the window")
    }

    /// Compaction forgets members whose last message can hold nothing back (a cooldown and the
    /// order skew before the newest); one forgotten is judged as one not seen — past the window, a
    /// grant, as it was remembered (compaction saves memory, it changes no verdict).
    @Test func compactionForgetsWhatCanHoldNothingBack() {
        var cooldowns = XPCooldowns()
        #expect(judge(&cooldowns, 1, atSecond: 0) == .candidate)
        #expect(judge(&cooldowns, 1, atSecond: 10) == .candidate)
        #expect(judge(&cooldowns, 2, atSecond: 71) == .grant)
        #expect(cooldowns.count == 2)
        cooldowns.compact(newest: 75_000, cooldown: minute)
        #expect(cooldowns.count == 2, "a message up to 10 s older than the newest may still arrive")
        cooldowns.compact(newest: 90_000, cooldown: minute)
        #expect(cooldowns.count == 1, "member 1's candidate at 10 s can hold nothing back at 90 s")
        #expect(judge(&cooldowns, 1, atSecond: 91) == .grant)
        #expect(judge(&cooldowns, 2, atSecond: 92) == .coolingDown)
    }

    /// Candidates whose times come out of order: the latest is what Redis may hold.
    @Test func theLatestCandidateCountsWhateverOrderTheyCameIn() {
        var cooldowns = XPCooldowns()
        #expect(judge(&cooldowns, 1, atSecond: 0) == .candidate)
        #expect(judge(&cooldowns, 1, atSecond: 50) == .candidate)
        #expect(judge(&cooldowns, 1, atSecond: 45) == .candidate)
        #expect(judge(&cooldowns, 1, atSecond: 105) == .candidate, "within a cooldown of 50 s (Redis may hold it)")
        #expect(judge(&cooldowns, 1, atSecond: 166) == .grant)
    }

    /// A flush judges a guild's grants by the batch's last cooldown: when it changes, what the actor
    /// remembers may not be what Redis holds, so everyone is in doubt again from that message.
    @Test func aChangedCooldownPutsEveryoneInDoubtAgain() {
        var cooldowns = XPCooldowns()
        let verdict = { (cooldowns: inout XPCooldowns, member: UInt64, second: UInt64, cooldown: UInt64) -> XPCooldowns.Verdict in
            let verdict = cooldowns.verdict(for: member, at: second * 1_000, cooldown: cooldown)
            cooldowns.sent(verdict, by: member, at: second * 1_000)
            return verdict
        }
        #expect(verdict(&cooldowns, 9, 0, 10_000) == .candidate)
        #expect(verdict(&cooldowns, 1, 100, 10_000) == .grant)
        #expect(verdict(&cooldowns, 1, 115, 10_000) == .grant)
        // Raised to a minute: Redis may judge 115 s by it and refuse it, holding 100 s.
        #expect(verdict(&cooldowns, 2, 120, 60_000) == .candidate)
        #expect(verdict(&cooldowns, 1, 165, 60_000) == .candidate, "Redis may hold 100 s: 165 s would be paid")
        #expect(verdict(&cooldowns, 3, 189, 60_000) == .candidate, "not seen, within 120 + 10 + 60 s")
        #expect(verdict(&cooldowns, 3, 250, 60_000) == .grant)
    }
}
