/// The flushes' record of which members they changed, for the checkpointer: one field of the
/// ``StatsKeys/changeJournal`` hash per flush round trip, holding the (guild, user) pairs of every
/// member it sent, two little-endian `UInt64`s each.
///
/// One write per round trip instead of one dirty-set write per guild inside the flush script: a
/// guild batch holds about four changes, and that write was an eighth of Redis's time per change.
/// The field goes in the same pipeline right after the script calls (in the same MULTI/EXEC when
/// there is one), so a checkpoint that reads it finds the changes applied.
enum ChangeJournal {
    static let pairSize = 16

    /// Appends a (guild, user) pair to `entry`.
    static func append(guild: UInt64, user: UInt64, to entry: inout [UInt8]) {
        withUnsafeBytes(of: guild.littleEndian) { entry.append(contentsOf: $0) }
        withUnsafeBytes(of: user.littleEndian) { entry.append(contentsOf: $0) }
    }

    /// Entries of `members` (guild → users), `membersEach` pairs at most in each (a guild with
    /// more members is split over several: reading merges them); none for no members.
    static func entries(_ members: [UInt64: Set<UInt64>], membersEach: Int) -> [[UInt8]] {
        precondition(membersEach > 0, "an entry holds at least one member")
        var entries: [[UInt8]] = []
        var entry: [UInt8] = []
        for (guild, users) in members {
            for user in users {
                append(guild: guild, user: user, to: &entry)
                if entry.count == membersEach * pairSize {
                    entries.append(entry)
                    entry = []
                }
            }
        }
        if !entry.isEmpty { entries.append(entry) }
        return entries
    }

    /// Adds an entry's pairs to `members`; returns false (adding nothing) for bytes that are not an
    /// entry (a length that is not a whole number of pairs).
    @discardableResult
    static func read(_ entry: [UInt8], into members: inout [UInt64: Set<UInt64>]) -> Bool {
        guard entry.count % pairSize == 0 else { return false }
        entry.withUnsafeBytes { bytes in
            for offset in stride(from: 0, to: bytes.count, by: pairSize) {
                let guild = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                let user = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
                members[guild, default: []].insert(user)
            }
        }
        return true
    }
}
