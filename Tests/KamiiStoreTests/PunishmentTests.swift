import DiscordModels
import Foundation
import Testing
@testable import KamiiStore

@Suite struct PunishmentTests {
    /// A time past what whole milliseconds in an Int64 hold is held at the end (it trapped); the
    /// 100-year bound on punishments refuses such times before they get here, so this is checked alone.
    @Test func aTimePastStoredMillisecondsIsHeldAtTheEnd() {
        #expect(Date(timeIntervalSince1970: 1e17).unixMilliseconds == .max)
        #expect(Date(timeIntervalSince1970: -1e17).unixMilliseconds == .min)
        #expect(Date(timeIntervalSince1970: .nan).unixMilliseconds == 0)
        #expect(Date(timeIntervalSince1970: 1_795_000_000.25).unixMilliseconds == 1_795_000_000_250)
    }

    @Test(arguments: TestEngine.available)
    func fiftyConcurrentModeratorsGetCaseNumbersOneToFiveThousand(_ engine: TestEngine) async throws {
        try await withStore(engine, maxConnections: 8) { store in
            let guild = IDs.guild(1)
            let other = IDs.guild(2)
            try await store.registerGuild(guild)
            try await store.registerGuild(other)
            let numbers = try await withThrowingTaskGroup(of: (GuildID, Int64).self) { group in
                for moderator in 1...50 {
                    group.addTask {
                        for index in 0..<100 {
                            _ = try await store.createCase(NewPunishment(
                                guild: guild, user: IDs.user(UInt64(1_000 + index)), moderator: IDs.user(UInt64(moderator)),
                                kind: .warn, reason: "spam #\(index)", createdAt: IDs.time))
                        }
                        return (guild, 0)
                    }
                }
                // Meanwhile another guild's moderators number their own cases.
                for moderator in 1...5 {
                    group.addTask {
                        let created = try await store.createCase(NewPunishment(
                            guild: other, user: IDs.user(7), moderator: IDs.user(UInt64(moderator)), kind: .note, reason: ""))
                        return (other, created.caseID)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(numbers.filter { $0.0 == other }.map(\.1).sorted() == [1, 2, 3, 4, 5])
            let all = try await store.exportGuild(guild).cases.map(\.punishment.caseID)
            #expect(all == Array(1...5_000))
            #expect(try await store.cases(of: IDs.user(1_000), in: guild).count == 50)
        }
    }

    @Test(arguments: TestEngine.available)
    func concurrentReasonEditsEachKeepTheWordingTheyReplaced(_ engine: TestEngine) async throws {
        try await withStore(engine, maxConnections: 8) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            _ = try await store.createCase(NewPunishment(guild: guild, user: IDs.user(1), moderator: IDs.user(2), kind: .warn, reason: "v0"))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for editor in 1...20 {
                    group.addTask { try await store.editReason(of: 1, in: guild, to: "v\(editor)", by: IDs.user(UInt64(editor))) }
                }
                try await group.waitForAll()
            }
            let history = try await store.reasonHistory(of: 1, in: guild)
            #expect(history.map(\.revision) == Array(1...20))
            // Each wording was replaced exactly once, and the chain starts at the original.
            #expect(history.first?.reason == "v0")
            let final = try #require(try await store.punishment(1, in: guild)).reason
            #expect(Set(history.map(\.reason) + [final]) == Set((0...20).map { "v\($0)" }))
        }
    }

    @Test func twoStoresOnOneSQLiteFileShareItsWriteQueue() async throws {
        try await withStore(.sqlite) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let second = try KamiiStore(store.configuration)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, writer) in [store, second, store, second].enumerated() {
                    group.addTask {
                        for _ in 0..<50 {
                            _ = try await writer.createCase(NewPunishment(guild: guild, user: IDs.user(UInt64(index + 1)), moderator: IDs.user(9), kind: .note, reason: ""))
                        }
                    }
                }
                try await group.waitForAll()
            }
            try await second.close()
            #expect(try await store.exportGuild(guild).cases.map(\.punishment.caseID) == Array(1...200))
        }
    }

    @Test(arguments: TestEngine.available)
    func returnedCasesEqualWhatIsReadBack(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let now = Date()  // sub-millisecond precision, stored as whole milliseconds
            let created = try await store.createCase(NewPunishment(
                guild: guild, user: IDs.user(1), moderator: IDs.user(2), kind: .timeout, reason: "r", createdAt: now, expiresAt: now.addingTimeInterval(60.000_7)))
            #expect(try await store.punishment(created.caseID, in: guild) == created)
            let ticket = try await store.openTicket(in: guild, by: IDs.user(1), reason: nil, at: now)
            #expect(try await store.ticket(ticket.number, in: guild) == ticket)
        }
    }

    /// Several members' cases in one query (a checkpoint's trust), each member's in order; other
    /// guilds' and unasked members' cases stay out.
    @Test(arguments: TestEngine.available)
    func casesOfManyMembersComeGroupedByMember(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1), other = IDs.guild(2)
            try await store.registerGuild(guild)
            try await store.registerGuild(other)
            for (user, kind) in [(1, Punishment.Kind.warn), (2, .ban), (1, .timeout), (3, .kick)] {
                _ = try await store.createCase(NewPunishment(
                    guild: guild, user: IDs.user(UInt64(user)), moderator: IDs.user(9), kind: kind, reason: "", createdAt: IDs.time,
                    expiresAt: kind == .timeout ? IDs.time.addingTimeInterval(60) : nil))
            }
            _ = try await store.createCase(NewPunishment(guild: other, user: IDs.user(1), moderator: IDs.user(9), kind: .ban, reason: ""))
            // More members than one statement's share of binds.
            let asked = [IDs.user(1), IDs.user(2)] + (100...1_300).map { IDs.user(UInt64($0)) }
            let cases = try await store.cases(of: asked, in: guild)
            #expect(cases.count == 2)
            #expect(cases[IDs.user(1)]?.map(\.kind) == [.warn, .timeout])
            #expect(cases[IDs.user(2)]?.map(\.kind) == [.ban])
            #expect(try await store.cases(of: [], in: guild).isEmpty)
        }
    }

    @Test(arguments: TestEngine.available)
    func aRolledBackCaseGivesItsNumberBack(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            struct Abandoned: Error {}
            await #expect(throws: StoreError.self) {
                try await store.transaction { database in
                    _ = try await StoreSupport.nextNumber("case", guild: guild, in: database)
                    throw Abandoned()
                }
            }
            let first = try await store.createCase(NewPunishment(guild: guild, user: IDs.user(1), moderator: IDs.user(2), kind: .kick, reason: "raid"))
            #expect(first.caseID == 1)
        }
    }

    @Test(arguments: TestEngine.available)
    func aCaseLivesThroughEditsExpiryAndRevocation(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let member = IDs.user(10)
            let moderator = IDs.user(20)
            let start = IDs.time
            let tempban = try await store.createCase(NewPunishment(
                guild: guild, user: member, moderator: moderator, kind: .tempban, reason: "first wording", createdAt: start,
                expiresAt: start.addingTimeInterval(3_600)))
            let warn = try await store.createCase(NewPunishment(guild: guild, user: member, moderator: moderator, kind: .warn, reason: "caps", createdAt: start))
            let kick = try await store.createCase(NewPunishment(guild: guild, user: member, moderator: moderator, kind: .kick, reason: "left", createdAt: start))
            #expect([tempban.caseID, warn.caseID, kick.caseID] == [1, 2, 3])
            #expect(tempban.active && warn.active && !kick.active)

            try await store.editReason(of: 1, in: guild, to: "second wording", by: IDs.user(21), at: start.addingTimeInterval(10))
            try await store.editReason(of: 1, in: guild, to: "third wording", by: IDs.user(22), at: start.addingTimeInterval(20))
            #expect(try await store.punishment(1, in: guild)?.reason == "third wording")
            let history = try await store.reasonHistory(of: 1, in: guild)
            #expect(history.map(\.reason) == ["first wording", "second wording"])
            #expect(history.map(\.replacedBy) == [IDs.user(21), IDs.user(22)])

            #expect(try await store.activePunishments(expiringBefore: start.addingTimeInterval(3_599)).isEmpty)
            let due = try await store.activePunishments(expiringBefore: start.addingTimeInterval(3_600))
            #expect(due.map(\.caseID) == [1])
            #expect(try await store.closeCase(1, in: guild))
            #expect(try await store.closeCase(1, in: guild) == false)
            #expect(try await store.activePunishments(expiringBefore: start.addingTimeInterval(7_200)).isEmpty)

            #expect(try await store.revokeCase(2, in: guild, by: IDs.user(30), reason: "appeal accepted", at: start.addingTimeInterval(60)))
            #expect(try await store.revokeCase(2, in: guild, by: IDs.user(31), reason: "again") == false)
            let revoked = try #require(try await store.punishment(2, in: guild))
            #expect(!revoked.active && revoked.revokedBy == IDs.user(30) && revoked.revokeReason == "appeal accepted")
            #expect(try await store.cases(of: member, in: guild).map(\.caseID) == [1, 2, 3])
        }
    }

    @Test(arguments: TestEngine.available)
    func badCasesAreTypedErrorsAndWriteNothing(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let base = NewPunishment(guild: guild, user: IDs.user(1), moderator: IDs.user(2), kind: .warn, reason: "ok")
            var noExpiry = base
            noExpiry.kind = .timeout
            var backwards = base
            backwards.kind = .tempban
            backwards.expiresAt = base.createdAt.addingTimeInterval(-1)
            var longReason = base
            longReason.reason = String(repeating: "r", count: 513)
            var badUser = base
            badUser.user = UserID(0)
            // Past what a stored time holds (it trapped converting to milliseconds), and merely absurd.
            var beyondTime = base
            beyondTime.kind = .tempban
            beyondTime.expiresAt = base.createdAt.addingTimeInterval(1e16)
            var centuries = base
            centuries.kind = .tempban
            centuries.expiresAt = base.createdAt.addingTimeInterval(NewPunishment.longestDuration + 86_400)
            for bad in [noExpiry, backwards, longReason, badUser, beyondTime, centuries] {
                await expectStoreError(.invalidInput) { try await store.createCase(bad) }
            }
            var elsewhere = base
            elsewhere.guild = IDs.guild(404)
            await expectStoreError(.unknownGuild) { try await store.createCase(elsewhere) }
            await expectStoreError(.notFound) { try await store.editReason(of: 9, in: guild, to: "x", by: IDs.user(2)) }
            await expectStoreError(.notFound) { try await store.revokeCase(9, in: guild, by: IDs.user(2), reason: "x") }
            await expectStoreError(.notFound) { try await store.closeCase(9, in: guild) }
            // The rejected requests were refused before a number was allocated.
            #expect(try await store.createCase(base).caseID == 1)
        }
    }
}
