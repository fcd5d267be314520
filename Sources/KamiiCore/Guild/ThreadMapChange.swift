/// How one guild's thread → channel map (``ThreadParents``) changed: what the stats flusher writes
/// to Redis with the shard positions it vouches for, so a process that restarts and resumes its
/// sessions — and gets no GUILD_CREATE — still knows which channel each thread is in.
public struct ThreadMapChange: Sendable, Equatable {
    /// What a thread taken out of the map (archived, deleted) is set to in ``parents``.
    public static let forgotten: UInt64 = 0

    /// Whether everything stored before is dropped first (GUILD_CREATE, THREAD_LIST_SYNC of the
    /// whole guild, the bot leaving): then ``parents`` is the whole map.
    public var replacesAll = false
    /// Thread → its channel now, or ``forgotten``.
    public var parents: [UInt64: UInt64] = [:]

    public init(replacesAll: Bool = false, parents: [UInt64: UInt64] = [:]) {
        self.replacesAll = replacesAll
        self.parents = parents
    }

    /// Nothing to write.
    public var isEmpty: Bool { !replacesAll && parents.isEmpty }

    /// The change from `before` to `after`, thread by thread.
    init(from before: [UInt64: UInt64], to after: [UInt64: UInt64]) {
        for (thread, parent) in after where before[thread] != parent { parents[thread] = parent }
        for thread in before.keys where after[thread] == nil { parents[thread] = Self.forgotten }
    }

    /// This change followed by `later`, as one.
    public mutating func merge(_ later: ThreadMapChange) {
        guard !later.replacesAll else {
            self = later
            return
        }
        for (thread, parent) in later.parents {
            if replacesAll && parent == Self.forgotten {
                parents.removeValue(forKey: thread)
            } else {
                parents[thread] = parent
            }
        }
    }
}
