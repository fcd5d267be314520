import Testing
@testable import DiscordSimulator

struct DispatchTallyTests {
    @Test func countsEachNameWhateverStringHoldsIt() {
        var tally = DispatchTally()
        #expect(tally.byName.isEmpty)
        // Names built at run time are other strings than the literals, equal all the same.
        let built = ["GUILD_MEMBER_", "UPDATE"].joined()
        for name in ["MESSAGE_CREATE", "GUILD_MEMBER_UPDATE", "MESSAGE_CREATE", built, "TYPING_START", "MESSAGE_CREATE"] {
            tally.count(name)
        }
        #expect(tally.byName == ["MESSAGE_CREATE": 3, "GUILD_MEMBER_UPDATE": 2, "TYPING_START": 1])
    }
}
