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

    @Test func replaysOfASessionTheBatchNoLongerEndsInCountAsTheyAre() {
        var batch = GuildStatsBatch()
        batch.countMessage(by: 1, at: 10, from: Origin(sessionTag: 5, sequence: 3, mayBeApplied: true))
        // The restored session was replaced (op 9, a new READY) before the flush: Redis's position
        // for the guild belongs to the old one, which the batch no longer ends in.
        batch.countMessage(by: 1, at: 20, from: Origin(sessionTag: 6, sequence: 1))
        #expect(batch.replayedMessages.isEmpty && batch.messages == [1: 2] && batch.deltaCount == 2)
        #expect(batch.sessionTag == 6 && batch.lastSequence == 1)
    }

    @Test func aMergeKeepsReplaysOfTheSessionItEndsIn() {
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
        #expect(replaced.replayedMessages.isEmpty && replaced.messages == [1: 1, 2: 1])
        #expect(replaced.sessionTag == 8 && replaced.lastSequence == 2)

        // A later batch that counted no message of a session leaves where the earlier one ended.
        var karmaOnly = GuildStatsBatch()
        karmaOnly.record(.init(message: 1, giver: 2, emoji: 3, receiver: 4))
        var kept = earlier
        kept.merge(karmaOnly)
        #expect(kept.sessionTag == 5 && kept.lastSequence == 3 && kept.replayedMessages.count == 1)
    }
}
