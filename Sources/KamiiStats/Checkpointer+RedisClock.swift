import KamiiRedis

/// The checkpointer's reading of Redis's clock: every row it writes carries the Redis time of its
/// read, and deletions are compared with those times.
extension Checkpointer {
    /// Redis's clock as `TIME` answers it, in ms.
    static func milliseconds(fromTime reply: RedisValue) throws -> Int64 {
        // Between 1970 and the year 10000, so the arithmetic after it cannot overflow.
        guard let parts = reply.array, parts.count == 2, let seconds = parts[0].string.flatMap(Int64.init),
              let microseconds = parts[1].string.flatMap(Int64.init), (0..<253_402_300_800).contains(seconds),
              (0..<1_000_000).contains(microseconds)
        else {
            throw RedisError.protocolViolation("TIME answered \(reply)")
        }
        return seconds * 1_000 + microseconds / 1_000
    }

    /// How far Redis's clock may step back between a checkpoint's read and a deletion, and the
    /// deletion still count as later: a deletion just before the read, of a member whose record
    /// started again, may then take that record's new row too — only if Redis also lost the guild
    /// in that window (otherwise the record is there).
    static let clockAllowanceMilliseconds: Int64 = 5_000
}
