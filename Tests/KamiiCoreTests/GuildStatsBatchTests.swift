import KamiiCore
import Testing

/// Where a batch's messages end in their session, and the replayed ones it holds for the flush.
struct GuildStatsBatchTests {
    typealias Origin = GuildStatsBatch.Origin

    @Test func aBatchEndsWhereItsLastCountedMessageCame() {
        var batch = GuildStatsBatch()
        batch.countMessage(by: 1, at: 10, from: Origin(sessionTag: 5, sequence: 3, mayBeApplied: true))
        batch.countMessage(by: 2, at: 11, from: Origin(sessionTag: 5, sequence: 4))
        // A message whose dispatch is unknown moves nothing (a capture replayed without a session).
        batch.countMessage(by: 2, at: 12, from: .unknown)
        #expect(batch.sessionTag == 5 && batch.lastSequence == 4)
        #expect(batch.replayedMessages.map { [$0.user, $0.messageTime, $0.sequence] } == [[1, 10, 3]])
        #expect(batch.messages == [1: 1, 2: 2] && batch.deltaCount == 3 && batch.earliestMessageTime == 10)
    }

    @Test func replaysKeepTheirSessionWhenTheBatchEndsInAnother() {
        var batch = GuildStatsBatch()
        batch.countMessage(by: 1, at: 10, from: Origin(sessionTag: 5, sequence: 3, mayBeApplied: true))
        // The restored session was replaced (op 9, a new READY) before the flush: the replay is still
        // judged against Redis's position in the old one.
        batch.countMessage(by: 1, at: 20, from: Origin(sessionTag: 6, sequence: 1))
        #expect(batch.replayedMessages.map(\.sequence) == [3] && batch.replayedSessionTag == 5)
        #expect(batch.sessionTag == 6 && batch.lastSequence == 1 && batch.messages == [1: 2] && batch.deltaCount == 2)
        // Replays of yet another session: those held before count as they are, the new ones are kept.
        batch.countMessage(by: 2, at: 30, from: Origin(sessionTag: 7, sequence: 8, mayBeApplied: true))
        #expect(batch.replayedMessages.map(\.sequence) == [8] && batch.replayedSessionTag == 7)
        #expect(batch.changes.filter { !$0.isGrant }.map(\.user) == [1, 1] && batch.messages == [1: 2, 2: 1] && batch.deltaCount == 3)
    }

    @Test func aMergeKeepsReplaysWithTheirSession() {
        var earlier = GuildStatsBatch()
        earlier.countMessage(by: 1, at: 10, from: Origin(sessionTag: 5, sequence: 3, mayBeApplied: true))
        var later = GuildStatsBatch()
        later.countMessage(by: 2, at: 20, from: Origin(sessionTag: 5, sequence: 9, mayBeApplied: true))
        var same = earlier
        same.merge(later)
        #expect(same.replayedMessages.map(\.sequence) == [3, 9] && same.lastSequence == 9 && same.deltaCount == 2)

        var other = GuildStatsBatch()
        other.countMessage(by: 2, at: 20, from: Origin(sessionTag: 8, sequence: 2))
        var replaced = earlier
        replaced.merge(other)
        #expect(replaced.replayedMessages.map(\.sequence) == [3] && replaced.replayedSessionTag == 5 && replaced.messages == [1: 1, 2: 1])
        #expect(replaced.sessionTag == 8 && replaced.lastSequence == 2)

        var otherReplays = GuildStatsBatch()
        otherReplays.countMessage(by: 2, at: 20, from: Origin(sessionTag: 8, sequence: 2, mayBeApplied: true))
        var twoSessions = earlier
        twoSessions.merge(otherReplays)
        #expect(twoSessions.replayedMessages.map(\.sequence) == [2] && twoSessions.replayedSessionTag == 8)
        #expect(twoSessions.messages == [1: 1, 2: 1] && twoSessions.deltaCount == 2)

        // Replays merged into a batch of plain messages (another session's), or into nothing.
        var plain = other
        plain.merge(earlier)
        #expect(plain.replayedMessages.map(\.sequence) == [3] && plain.replayedSessionTag == 5 && plain.messages == [1: 1, 2: 1])
        #expect(plain.sessionTag == 5 && plain.lastSequence == 3 && plain.deltaCount == 2)
        var empty = GuildStatsBatch()
        empty.merge(earlier)
        #expect(empty == earlier)

        // A later batch that counted no message of a session leaves where the earlier one ended.
        var karmaOnly = GuildStatsBatch()
        karmaOnly.record(.init(message: 1, giver: 2, emoji: 3, receiver: 4))
        var kept = earlier
        kept.merge(karmaOnly)
        #expect(kept.sessionTag == 5 && kept.lastSequence == 3 && kept.replayedMessages.count == 1)
    }

    /// The changes' first four are held in place and the rest in an array: every count of them keeps
    /// its order through appends and merges, on either side of the fourth, on both sides of a merge.
    @Test(arguments: [(0, 3), (1, 3), (3, 3), (4, 3), (5, 3), (9, 3), (6, 7), (4, 0), (2, 9)])
    func changesKeepTheirOrderAcrossTheHeldFour(_ counts: (earlier: Int, later: Int)) {
        var earlier = GuildStatsBatch(), later = GuildStatsBatch()
        let total = counts.earlier + counts.later
        for user in 0..<total {
            if user < counts.earlier { earlier.countMessage(by: UInt64(user + 1)) } else { later.countMessage(by: UInt64(user + 1)) }
        }
        #expect(earlier.changes.map(\.user) == (0..<counts.earlier).map { UInt64($0 + 1) })
        #expect(earlier.changes.count == counts.earlier && earlier.deltaCount == counts.earlier)
        var merged = earlier
        merged.merge(later)
        #expect(merged.changes.map(\.user) == (0..<total).map { UInt64($0 + 1) })
        #expect(merged.changes.indices == 0..<total)
        var same = GuildStatsBatch()
        for user in 0..<total { same.countMessage(by: UInt64(user + 1)) }
        #expect(same.changes == merged.changes, "equal by their changes, however they were held")
    }
}
