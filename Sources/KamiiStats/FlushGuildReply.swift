import KamiiRedis

/// One guild's part of a flush script call's reply (``StatsFlushScript``): the grants applied — -1
/// for a batch Redis had already, -2 for a guild it does not have, -3 for one whose keys are not
/// what Kamii writes, followed by Redis's error — then the count of its level-ups and returning
/// members' joins, and each as user, level before (-1 for a join), level after. Read whole before anything is settled: a part not of that shape puts
/// every later one out of step, and a guild read from the wrong place could be taken for applied
/// (its changes acknowledged, never written) or for unloaded.
struct FlushGuildReply {
    static let appliedEarlier = -1
    static let unloaded = -2
    static let broken = -3

    /// Grants applied, or one of the negative statuses.
    let applied: Int
    /// Redis's error for a broken guild.
    let error: String?
    /// Level-ups, and joins with -1 as `from`.
    let levelUps: [(user: UInt64, from: Int, to: Int)]

    /// Reads the next guild's part from `rest`; nil when it is cut short or not of that shape
    /// (`rest` is then anywhere inside it).
    init?(_ rest: inout ArraySlice<RedisValue>) {
        guard let applied = rest.popFirst()?.int, applied >= Self.broken, let count = rest.popFirst()?.int, count >= 0 else { return nil }
        var error: String?
        if applied == Self.broken {
            guard let message = rest.popFirst()?.string else { return nil }
            error = message
        }
        // Level-ups come only with a batch applied (now, or by an earlier send of the flush).
        guard count == 0 || applied >= Self.appliedEarlier, count <= rest.count / 3 else { return nil }
        var levelUps: [(user: UInt64, from: Int, to: Int)] = []
        for _ in 0..<count {
            guard let user = rest.popFirst()?.string.flatMap(UInt64.init), let from = rest.popFirst()?.int, from >= -1, let to = rest.popFirst()?.int else {
                return nil
            }
            levelUps.append((user, from, to))
        }
        self.applied = applied
        self.error = error
        self.levelUps = levelUps
    }
}
