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

    /// Compaction forgets members whose last message can hold nothing back; one forgotten is judged
    /// as one not seen — past the window, a grant.
    @Test func compactionForgetsWhatCanHoldNothingBack() {
        var cooldowns = XPCooldowns()
        #expect(judge(&cooldowns, 1, atSecond: 0) == .candidate)
        #expect(judge(&cooldowns, 2, atSecond: 71) == .grant)
        #expect(cooldowns.count == 2)
        cooldowns.compact(newest: 90_000, cooldown: minute)
        #expect(cooldowns.count == 1, "member 1's candidate at 0 s can hold nothing back at 90 s")
        #expect(judge(&cooldowns, 1, atSecond: 91) == .grant)
        #expect(judge(&cooldowns, 2, atSecond: 92) == .coolingDown)
    }
}
