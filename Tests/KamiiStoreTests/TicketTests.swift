import DiscordModels
import Foundation
import Testing
@testable import KamiiStore

@Suite struct TicketTests {
    @Test(arguments: TestEngine.available)
    func ticketsAreNumberedPerGuildAndMoveOpenClaimedClosed(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            let other = IDs.guild(2)
            try await store.registerGuild(guild)
            try await store.registerGuild(other)
            let first = try await store.openTicket(in: guild, by: IDs.user(1), reason: "appeal", at: IDs.time)
            let second = try await store.openTicket(in: guild, by: IDs.user(2), reason: nil)
            let elsewhere = try await store.openTicket(in: other, by: IDs.user(3), reason: "help")
            #expect([first.number, second.number, elsewhere.number] == [1, 2, 1])

            try await store.setTicketChannel(1, in: guild, to: IDs.channel(50))
            try await store.claimTicket(1, in: guild, by: IDs.user(9))
            try await store.closeTicket(1, in: guild, by: IDs.user(9), reason: "resolved", at: IDs.time.addingTimeInterval(60))
            let closed = try #require(try await store.ticket(1, in: guild))
            #expect(closed.status == .closed && closed.channel == IDs.channel(50) && closed.claimedBy == IDs.user(9))
            #expect(closed.closeReason == "resolved" && closed.closedAt == IDs.time.addingTimeInterval(60))
            #expect(try await store.tickets(in: guild, status: .open).map(\.number) == [2])
            #expect(try await store.tickets(in: guild, status: .closed).map(\.number) == [1])

            await expectStoreError(.conflict) { try await store.claimTicket(1, in: guild, by: IDs.user(9)) }
            await expectStoreError(.conflict) { try await store.closeTicket(1, in: guild, by: IDs.user(9), reason: nil) }
            await expectStoreError(.unknownGuild) { try await store.claimTicket(1, in: IDs.guild(404), by: IDs.user(9)) }
            await expectStoreError(.invalidInput) { try await store.claimTicket(1, in: GuildID(0), by: IDs.user(9)) }
            await expectStoreError(.notFound) { try await store.claimTicket(7, in: guild, by: IDs.user(9)) }
            await expectStoreError(.unknownGuild) { try await store.openTicket(in: IDs.guild(404), by: IDs.user(1), reason: nil) }
            await expectStoreError(.invalidInput) { try await store.openTicket(in: guild, by: IDs.user(1), reason: String(repeating: "x", count: 1_001)) }
            #expect(try await store.openTicket(in: guild, by: IDs.user(4), reason: nil).number == 3)
        }
    }

    @Test(arguments: TestEngine.available)
    func ofModeratorsClaimingAtOnceExactlyOneGetsTheTicket(_ engine: TestEngine) async throws {
        try await withStore(engine, maxConnections: 8) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            _ = try await store.openTicket(in: guild, by: IDs.user(1), reason: "help")
            let winners = await withTaskGroup(of: UserID?.self) { group in
                for moderator in 10..<20 {
                    group.addTask {
                        let claimant = IDs.user(UInt64(moderator))
                        do {
                            try await store.claimTicket(1, in: guild, by: claimant)
                            return claimant
                        } catch {
                            return nil
                        }
                    }
                }
                return await group.reduce(into: [UserID]()) { if let winner = $1 { $0.append(winner) } }
            }
            #expect(winners.count == 1)
            let claimed = try await store.ticket(1, in: guild)
            #expect(claimed?.claimedBy == winners.first)
        }
    }
}
