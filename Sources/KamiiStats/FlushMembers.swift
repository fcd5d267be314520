import KamiiCore

/// A flush's guild batches grouped by member, the way the flush script reads them: per guild, its
/// members (user, messages counted, latest profile, their grants in order). Every guild's members
/// go into flat arrays and a sort buffer reused from guild to guild, so grouping a flush of
/// thousands of guilds allocates a handful of times, not once or more per guild and per member.
struct FlushMembers {
    struct Member {
        let user: UInt64
        let messages: Int
        let profile: MemberProfile?
        /// Where the member's grants are in ``FlushMembers/grants``.
        let grants: Range<Int>
        /// Where the `s` of the member's replayed messages (``GuildStatsBatch/replayedMessages``)
        /// are in ``FlushMembers/replayedSequences``.
        let replayed: Range<Int>
    }

    private(set) var members: [Member] = []
    private(set) var grants: [GuildStatsBatch.Grant] = []
    private(set) var replayedSequences: [UInt64] = []
    /// Each change's user and its index among the batch's changes (-1 for a profile, `Int.min + i`
    /// for replayed message i): sorted, a member's entries are side by side and their grants and
    /// replayed messages in order.
    private var entries: [(user: UInt64, change: Int)] = []

    /// Groups `batch` by member; returns where its members are in ``members``. Members come in
    /// order of user id.
    mutating func append(_ batch: GuildStatsBatch) -> Range<Int> {
        entries.removeAll(keepingCapacity: true)
        let changes = batch.changes
        for index in changes.indices { entries.append((changes[index].user, index)) }
        for user in batch.profiles.keys { entries.append((user, -1)) }
        let replayed = batch.replayedMessages
        for index in replayed.indices { entries.append((replayed[index].user, Int.min + index)) }
        entries.sort { $0.user != $1.user ? $0.user < $1.user : $0.change < $1.change }
        let first = members.count
        var index = 0
        while index < entries.count {
            let user = entries[index].user
            let firstGrant = grants.count
            let firstReplayed = replayedSequences.count
            var messages = 0
            while index < entries.count, entries[index].user == user {
                let position = entries[index].change
                if position < -1 {
                    replayedSequences.append(replayed[position - Int.min].sequence)
                } else if position >= 0 {
                    let change = changes[position]
                    if change.isGrant {
                        grants.append(GuildStatsBatch.Grant(user: user, messageTime: change.messageTime, xp: Int(change.xp)))
                    } else {
                        messages += 1
                    }
                }
                index += 1
            }
            members.append(Member(
                user: user, messages: messages, profile: batch.profiles[user], grants: firstGrant..<grants.count,
                replayed: firstReplayed..<replayedSequences.count))
        }
        return first..<members.count
    }

    /// Appends a member's changes as the script unpacks them (``StatsFlushScript/memberFormat``,
    /// its first grant's message time and XP among them; the profile when there is one; each further
    /// grant; then — when the flags say so — the replayed messages' count and `s` each) to what
    /// `writer` holds: a guild's members go one after the other in its one changes argument.
    func append(_ member: Member, to writer: inout LittleEndianWriter) {
        writer.append(Int32(clamping: member.messages))
        let flags = (member.profile == nil ? 0 : StatsFlushScript.hasProfileFlag) + (member.replayed.isEmpty ? 0 : StatsFlushScript.hasReplayedFlag)
            + (member.profile?.restoresRewards == true ? StatsFlushScript.restoresRewardsFlag : 0)
            + (member.profile?.endsScreening == true ? StatsFlushScript.endsScreeningFlag : 0)
        writer.append(UInt8(flags))
        writer.append(Int32(clamping: member.grants.count))
        // The first grant is part of the member's fixed fields (zeros when none), so the script reads
        // the usual member — one grant, no profile — in one unpack.
        let first = member.grants.isEmpty ? nil : grants[member.grants.lowerBound]
        writer.append(Double(first?.messageTime ?? 0))
        writer.append(Int32(clamping: first?.xp ?? 0))
        if let profile = member.profile {
            writer.append(Int8(profile.hasAvatar ? 1 : 0))
            writer.append(Double(profile.joinedAt))
            // -1: the event did not say; the record's flag stays.
            writer.append(Int8(profile.isPending.map { $0 ? 1 : 0 } ?? -1))
            writer.append(Int8(profile.isVerified.map { $0 ? 1 : 0 } ?? -1))
            writer.append(Int8(clamping: profile.trust))
        }
        for grant in grants[member.grants].dropFirst() {
            writer.append(Double(grant.messageTime))
            writer.append(Int32(clamping: grant.xp))
        }
        if !member.replayed.isEmpty {
            writer.append(Int32(clamping: member.replayed.count))
            // A double holds every `s` exactly (below 2^53): Lua's numbers are doubles.
            for sequence in replayedSequences[member.replayed] { writer.append(Double(sequence)) }
        }
    }
}
