import Synchronization

/// Process-wide counts of what the hot path did, read by reports and metrics. Relaxed atomics:
/// one add per event, no lock.
public final class HotPathCounters: Sendable {
    let routedCount = Atomic<Int>(0)
    let messageCount = Atomic<Int>(0)
    let grantCount = Atomic<Int>(0)
    let malformedCount = Atomic<Int>(0)

    public init() {}

    /// Dispatches routed to a guild actor.
    public var routed: Int { routedCount.load(ordering: .relaxed) }
    /// MESSAGE_CREATE events read.
    public var messages: Int { messageCount.load(ordering: .relaxed) }
    /// Messages that earned XP (before Redis's re-check).
    public var grants: Int { grantCount.load(ordering: .relaxed) }
    /// Hot events whose payload could not be read (counted, then skipped).
    public var malformed: Int { malformedCount.load(ordering: .relaxed) }
}
