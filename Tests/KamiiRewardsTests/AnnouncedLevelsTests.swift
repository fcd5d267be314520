import DiscordModels
@testable import KamiiRewards
import KamiiStats
import Testing

/// What the rewarder remembers of level-ups announced whose roles wait.
struct AnnouncedLevelsTests {
    func levelUp(_ user: UInt64, to level: Int) -> LevelUp { LevelUp(guild: GuildID(5 << 22), user: UserID(user), from: 0, to: level) }

    @Test func aLevelIsCoveredUntilItsLevelUpIsOverAndAHigherOneIsNot() {
        var announced = AnnouncedLevels()
        announced.note(levelUp(1, to: 5))
        #expect(announced.covers(levelUp(1, to: 5)) && announced.covers(levelUp(1, to: 4)) && !announced.covers(levelUp(1, to: 6)))
        announced.forget(levelUp(1, to: 4))
        #expect(announced.covers(levelUp(1, to: 5)), "an older level-up over leaves the later one noted")
        announced.forget(levelUp(1, to: 5))
        #expect(!announced.covers(levelUp(1, to: 5)) && announced.count == 0)
    }

    /// At the limit the memory starts again rather than noting nothing new for good.
    @Test func theLimitForgetsEverythingRatherThanRefusingTheNew() {
        var announced = AnnouncedLevels()
        for user in 1...UInt64(AnnouncedLevels.limit) { announced.note(levelUp(user, to: 2)) }
        #expect(announced.count == AnnouncedLevels.limit)
        announced.note(levelUp(1, to: 3))
        #expect(announced.count == AnnouncedLevels.limit, "a member already noted is updated in place")
        announced.note(levelUp(0, to: 2))
        #expect(announced.count == 1 && announced.covers(levelUp(0, to: 2)))
    }
}
