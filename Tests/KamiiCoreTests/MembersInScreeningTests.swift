import DiscordModels
@testable import KamiiCore
import Testing

/// Members waiting to pass Membership Screening are bounded in number and in time.
struct MembersInScreeningTests {
    func join(_ user: UInt64) -> MemberJoin { MemberJoin(guild: GuildID(7 << 22), user: UserID(user)) }

    @Test func aRaidOfPendingJoinsGivesWayOldestFirst() {
        let screening = MembersInScreening()
        let capacity = UInt64(MembersInScreening.screeningCapacity)
        for user in 1...(capacity + 1) { screening.awaitScreening(join(user), now: 1_000 + user) }
        let passed = [1, capacity / 10, capacity / 10 + 1, capacity + 1].filter { screening.passedScreening(join($0), now: 2_000 + capacity) }
        #expect(passed == [capacity / 10 + 1, capacity + 1], "the oldest tenth gave way to the newest")
    }

    @Test func aMemberWhoPassesAfterTheWaitIsNotReported() {
        let screening = MembersInScreening()
        screening.awaitScreening(join(1), now: 10)
        screening.awaitScreening(join(2), now: 10)
        #expect(!screening.passedScreening(join(1), now: 10 + MembersInScreening.screeningWaitMilliseconds))
        #expect(screening.passedScreening(join(2), now: 9 + MembersInScreening.screeningWaitMilliseconds))
        #expect(!screening.passedScreening(join(2), now: 10), "reported once")
    }
}
