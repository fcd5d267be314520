import Synchronization

/// Where guild actors leave their stat changes until the flusher takes them.
///
/// Striped by guild so shards on different cores rarely meet on a lock. The bound counts every
/// change not yet acknowledged by Redis — buffered or in a flush that has not succeeded — and once
/// it is reached ``waitForRoom()`` suspends the caller: a guild actor then stops taking events, its
/// shard stops reading, and a flood slows the sockets instead of growing memory. Nothing is dropped.
public final class StatsBuffer: Sendable {
    /// Changes held (buffered + unacknowledged) before recorders must wait.
    public let capacity: Int
    /// Buffered changes at which the flusher is woken before its interval ends.
    public let flushThreshold: Int

    private let stripes: [Stripe]
    private let outstanding = Atomic<Int>(0)
    private let buffered = Atomic<Int>(0)
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let wake: AsyncStream<Void>.Continuation
    /// Yields when the flusher should flush early (the threshold was crossed).
    public let wakeups: AsyncStream<Void>

    public init(capacity: Int = 1_000_000, flushThreshold: Int = 5_000) {
        precondition(capacity > 0 && flushThreshold > 0, "capacity and threshold must be positive")
        self.capacity = capacity
        self.flushThreshold = flushThreshold
        stripes = (0..<16).map { _ in Stripe() }
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Records changes of one guild. Call ``waitForRoom()`` before, so the bound holds.
    public func record(guild: UInt64, _ change: (inout GuildStatsBatch) -> Void) {
        let added = stripe(guild).batches.withLock { batches in
            Self.apply(change, to: &batches[guild, default: GuildStatsBatch()])
        }
        guard added > 0 else { return }
        outstanding.add(added, ordering: .relaxed)
        let now = buffered.add(added, ordering: .relaxed).newValue
        if now >= flushThreshold && now - added < flushThreshold { wake.yield() }
    }

    /// One hash lookup: the batch is changed in place through the dictionary's accessor.
    private static func apply(_ change: (inout GuildStatsBatch) -> Void, to batch: inout GuildStatsBatch) -> Int {
        let before = batch.deltaCount
        change(&batch)
        return batch.deltaCount - before
    }

    /// Returns at once while there is room; otherwise waits until a flush is acknowledged.
    public func waitForRoom() async {
        guard outstanding.load(ordering: .relaxed) >= capacity else { return }
        await withCheckedContinuation { continuation in
            let ready = waiters.withLock { waiters -> Bool in
                if outstanding.load(ordering: .relaxed) < capacity { return true }
                waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Takes every buffered change, leaving the buffer empty; the changes stay counted against the
    /// bound until ``acknowledge(_:)``.
    public func take() -> [UInt64: GuildStatsBatch] {
        var taken: [UInt64: GuildStatsBatch] = [:]
        for stripe in stripes {
            let batches = stripe.batches.withLock { batches in
                let full = batches
                batches = [:]
                return full
            }
            taken.merge(batches) { first, _ in first }
        }
        let count = taken.values.reduce(0) { $0 + $1.deltaCount }
        buffered.subtract(count, ordering: .relaxed)
        return taken
    }

    /// Releases `count` changes that Redis has applied, waking recorders waiting for room.
    public func acknowledge(_ count: Int) {
        outstanding.subtract(count, ordering: .relaxed)
        let ready = waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            guard outstanding.load(ordering: .relaxed) < capacity else { return [] }
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in ready { waiter.resume() }
    }

    /// Changes recorded and not yet acknowledged.
    public var unacknowledged: Int { outstanding.load(ordering: .relaxed) }

    /// Wakes the flusher (its interval timer calls this).
    public func requestFlush() { wake.yield() }

    /// Stops the wake-up stream (the flusher's loop ends).
    public func finish() { wake.finish() }

    private final class Stripe: Sendable {
        let batches = Mutex<[UInt64: GuildStatsBatch]>([:])
    }

    private func stripe(_ guild: UInt64) -> Stripe {
        stripes[Int((guild >> 22) % UInt64(stripes.count))]
    }
}
