import DiscordModels
@testable import KamiiCore
import Testing

/// Members waiting to pass Membership Screening are bounded in number and in time.
struct MemberJoinsScreeningTests {
    func join(_ user: UInt64) -> MemberJoin { MemberJoin(guild: GuildID(7 << 22), user: UserID(user)) }

    func reported(_ joins: MemberJoins) async -> [UInt64] {
        joins.finish()
        var users: [UInt64] = []
        for await join in joins.stream { users.append(join.user.rawValue) }
        return users
    }

    @Test func aRaidOfPendingJoinsGivesWayOldestFirst() async {
        let joins = MemberJoins()
        let capacity = UInt64(MemberJoins.screeningCapacity)
        for user in 1...(capacity + 1) { joins.awaitScreening(join(user), now: 1_000 + user) }
        for user in [1, capacity / 10, capacity / 10 + 1, capacity + 1] { joins.passedScreening(join(user), now: 2_000 + capacity) }
        #expect(await reported(joins) == [capacity / 10 + 1, capacity + 1], "the oldest tenth gave way to the newest")
    }

    @Test func aMemberWhoPassesAfterTheWaitIsNotReported() async {
        let joins = MemberJoins()
        joins.awaitScreening(join(1), now: 10)
        joins.awaitScreening(join(2), now: 10)
        joins.passedScreening(join(1), now: 10 + MemberJoins.screeningWaitMilliseconds)
        joins.passedScreening(join(2), now: 9 + MemberJoins.screeningWaitMilliseconds)
        #expect(await reported(joins) == [2])
    }

    /// Joins nobody reads past the buffer's 10,000 are counted, not lost silently.
    @Test func joinsNobodyReadsAreCountedOnceTheBufferIsFull() async {
        let joins = MemberJoins()
        for user in 1...10_005 as ClosedRange<UInt64> { joins.report(join(user)) }
        #expect(joins.dropped == 5)
        #expect(await reported(joins).count == 10_000)
    }
}
