import DiscordModels
import KamiiRedis
import Logging

/// What a checkpoint does with the marked members whose record it could not copy: none in Redis
/// (deleted, or never there), or one it cannot read.
extension Checkpointer {
    /// `users`' records as read (`stored`, one reply each), sorted into those it copies, those
    /// with no record and those with one it cannot read.
    static func sort(_ users: [UserID], _ stored: [RedisValue]) -> (
        records: [(UserID, MemberRecord)], missing: [UserID], unreadable: [UserID]
    ) {
        var sorted: (records: [(UserID, MemberRecord)], missing: [UserID], unreadable: [UserID]) = ([], [], [])
        sorted.records.reserveCapacity(users.count)
        for (user, reply) in zip(users, stored) {
            if let bytes = reply.bytes {
                if let record = MemberRecord(stored: bytes) { sorted.records.append((user, record)) } else { sorted.unreadable.append(user) }
            } else {
                sorted.missing.append(user)
            }
        }
        return sorted
    }

    /// Deletes the SQL rows of `users` (marked, but without a record in Redis) read before a
    /// deletion of theirs (or their guild's) Redis still remembers. A checkpoint that wrote a deleted
    /// member's row back and then failed, or was killed, before deleting it again leaves the member
    /// marked; without this, the next checkpoint would pass over them for having no record, and the
    /// row would outlive the deletion (and come back into Redis with the next load). A row read
    /// after the deletion holds what the member did since and stays: the record is missing for
    /// another reason (Redis lost the guild, a load is writing it back).
    func deleteRowsOfDeleted(_ users: [UserID], in guild: GuildID) async throws {
        guard !users.isEmpty else { return }
        let parts = stride(from: 0, to: users.count, by: 1_000).map { users[$0..<min($0 + 1_000, users.count)] }
        var pipeline = RedisPipeline()
        for part in parts {
            pipeline.append(["HMGET", keys.deletions(in: guild), StatsKeys.wholeGuild] + part.map { String($0.rawValue) })
        }
        let replies = try await redis.execute(pipeline)
        var deleted: [(user: UserID, readNoLaterThan: Int64)] = []
        for (part, reply) in zip(parts, replies) {
            let remembered = try reply.orThrow().array ?? []
            let wholeGuild = remembered.first.flatMap(Self.deletionTime)
            for (user, time) in zip(part, remembered.dropFirst()) {
                guard let at = [wholeGuild, Self.deletionTime(time)].compactMap({ $0 }).max() else { continue }
                // The same allowance for clocks as the trust write's: a read this close to the
                // deletion counts as before it.
                // Saturated, not wrapped: a time past the last one Int64 holds still deletes.
                let (bound, overflowed) = at.addingReportingOverflow(Self.clockAllowanceMilliseconds)
                deleted.append((user, overflowed ? .max : bound))
            }
        }
        guard !deleted.isEmpty else { return }
        let count = try await store.deleteServerUsers(deleted, in: guild)
        if count > 0 {
            logger.notice("rows of deleted members, written back by an unfinished checkpoint, deleted", metadata: ["guild": "\(guild)", "members": "\(count)"])
        }
    }

    /// A remembered deletion's time (Unix ms); a value Kamii did not write counts as the latest
    /// time, so that its row goes (a deletion is never undone by doubt).
    private static func deletionTime(_ value: RedisValue) -> Int64? {
        guard value != .null else { return nil }
        return value.string.flatMap { Int64($0) } ?? .max
    }

    /// Keeps `users` (their records unreadable) marked and out of SQL until the record is fixed or
    /// purged: the flush refuses their guild the same way (``StatsFlushScript``), and SQL keeps
    /// its last good row rather than losing it.
    func keepMarked(_ users: [UserID], in guild: GuildID) async throws {
        guard !users.isEmpty else { return }
        unreadableRecords += users.count
        try await markAgain(users, in: guild)
        guard brokenGuilds.insert(guild.rawValue).inserted else { return }
        logger.error("checkpoint: member records that are not what Kamii writes stay out of SQL until fixed or purged (kamii data delete)", metadata: [
            "guild": "\(guild)", "members": "\(users.count)",
        ])
    }
}
