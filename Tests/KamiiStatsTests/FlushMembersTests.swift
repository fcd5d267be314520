import DiscordModels
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import Testing

/// Grouping a flush's batches by member into flat arrays (what the flush script reads).
struct FlushMembersTests {
    @Test func eachMemberGetsTheirCountsProfileAndGrantsInOrder() throws {
        var first = GuildStatsBatch()
        for (user, time, xp) in [(30, 1_000, 15), (10, 2_000, 20), (30, 3_000, 25), (30, 4_000, 16)] as [(UInt64, UInt64, Int)] {
            first.grant(.init(user: user, messageTime: time, xp: xp), cooldownMilliseconds: 60_000)
        }
        for user in [30, 10, 30, 20, 30] as [UInt64] { first.countMessage(by: user) }
        let profile = MemberProfile(hasAvatar: true, joinedAt: 5, isPending: false, isVerified: true, trust: 40)
        first.setProfile(profile, of: 40)
        var second = GuildStatsBatch()
        second.countMessage(by: 30)
        second.grant(.init(user: 30, messageTime: 9_000, xp: 21), cooldownMilliseconds: 60_000)

        var grouped = FlushMembers()
        let firstRange = grouped.append(first)
        let secondRange = grouped.append(second)
        let members = grouped.members[firstRange]
        #expect(members.map(\.user) == [10, 20, 30, 40], "one per member, in order of user id")
        #expect(members.map(\.messages) == [1, 1, 3, 0])
        #expect(members.map { grouped.grants[$0.grants].map(\.messageTime) } == [[2_000], [], [1_000, 3_000, 4_000], []])
        #expect(members.map { $0.profile != nil } == [false, false, false, true])
        #expect(secondRange == 4..<5)
        let later = grouped.members[secondRange.lowerBound]
        #expect(later.user == 30 && later.messages == 1 && grouped.grants[later.grants].map(\.xp) == [21])

        // Packed as the script unpacks it: `<i4Bi4di4` (the first grant among the member's numbers),
        // no profile, then `<di4` per further grant.
        let bytes = packed(members[members.startIndex + 2], grouped)
        #expect(bytes.count == 4 + 1 + 4 + 8 + 4 + 2 * 12)
        #expect(bytes[0..<4] == [3, 0, 0, 0] && bytes[4] == 0, "three messages, no profile")
        #expect(bytes[5..<9] == [3, 0, 0, 0], "three grants")
        #expect(bytes[9..<17] == ArraySlice(withUnsafeBytes(of: Double(1_000).bitPattern.littleEndian, Array.init)), "the first grant's time")
        #expect(bytes[21..<29] == ArraySlice(withUnsafeBytes(of: Double(3_000).bitPattern.littleEndian, Array.init)), "the second's, next")
        // A profile follows the fixed numbers: `<bdbbb`.
        let withProfile = packed(members[members.startIndex + 3], grouped)
        #expect(withProfile.count == 21 + 12 && withProfile[4] == StatsFlushScript.hasProfileFlag)
        #expect(withProfile[21] == 1 && withProfile[30..<33] == [0, 1, 40], "avatar, …, not pending, verified, trust")
    }

    @Test func replayedMessagesFollowTheGrantsWithTheirSequences() throws {
        var batch = GuildStatsBatch()
        for (user, sequence) in [(30, 5), (10, 6), (30, 7)] as [(UInt64, UInt64)] {
            batch.countMessage(by: user, at: 1_000, from: GuildStatsBatch.Origin(sessionTag: 77, sequence: sequence, mayBeApplied: true))
        }
        batch.countMessage(by: 30, at: 2_000, from: GuildStatsBatch.Origin(sessionTag: 77, sequence: 8))
        batch.grant(.init(user: 30, messageTime: 2_000, xp: 18), cooldownMilliseconds: 60_000)
        batch.setProfile(MemberProfile(hasAvatar: true, joinedAt: 5, isPending: false, isVerified: false, trust: 40), of: 30)
        #expect(batch.sessionTag == 77 && batch.lastSequence == 8 && batch.deltaCount == 6)
        #expect(batch.messages == [10: 1, 30: 3])

        var grouped = FlushMembers()
        let range = grouped.append(batch)
        let members = grouped.members[range]
        #expect(members.map(\.user) == [10, 30] && members.map(\.messages) == [0, 1])
        #expect(members.map { grouped.replayedSequences[$0.replayed] } == [[6], [5, 7]])
        let bytes = packed(members[members.startIndex + 1], grouped)
        // `<i4Bi4di4` with its one grant, the profile, then the replayed count and each `s` as a double.
        #expect(bytes.count == 21 + 12 + 4 + 2 * 8)
        #expect(bytes[4] == StatsFlushScript.hasProfileFlag + StatsFlushScript.hasReplayedFlag, "a profile, and replayed messages follow")
        #expect(bytes[33..<37] == [2, 0, 0, 0])
        #expect(bytes[37..<45] == ArraySlice(withUnsafeBytes(of: Double(5).bitPattern.littleEndian, Array.init)))
        // A member without a grant still has the first grant's place, zeros, before their replays.
        let none = packed(members[members.startIndex], grouped)
        #expect(none.count == 21 + 4 + 8 && none[5..<9] == [0, 0, 0, 0] && none[9..<21].allSatisfy { $0 == 0 })
        #expect(none[21..<25] == [1, 0, 0, 0], "one replayed message")
    }

    /// The keys the flush writes in parts are the keys everything else builds as Strings.
    @Test func keysWrittenInPlaceAreStatsKeys() {
        for keys in [StatsKeys(), StatsKeys(prefix: "a-much-longer-prefix-é")] {
            for guild: UInt64 in [0, 1 << 22, 1_234_567_890_123_456_789, .max] {
                var inPlace = RedisPipeline()
                inPlace.beginCommand(arguments: 2)
                inPlace.appendMembersKey(keys, guild)
                inPlace.appendGuildPrefix(keys, guild)
                var asStrings = RedisPipeline()
                asStrings.beginCommand(arguments: 2)
                asStrings.appendArgument(keys.members(in: GuildID(guild)))
                asStrings.appendArgument(keys.guildPrefix(GuildID(guild)))
                #expect(inPlace.buffer == asStrings.buffer, "\(keys.prefix) \(guild)")
            }
        }
    }

    /// One member's bytes, as ``FlushMembers/append(_:to:)`` writes them into their guild's argument.
    private func packed(_ member: FlushMembers.Member, _ grouped: FlushMembers) -> [UInt8] {
        var writer = LittleEndianWriter(capacity: 64)
        grouped.append(member, to: &writer)
        return writer.bytes
    }
}
