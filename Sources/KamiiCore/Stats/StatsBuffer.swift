import Synchronization

/// Where guild actors leave their stat changes until the flusher takes them.
///
/// Each guild actor records into a ``GuildStatsSlot`` of its own (one uncontended lock, no lookup);
/// a slot that receives its first change since the last flush lists itself once for the flusher.
/// The bound counts every change not yet acknowledged by Redis — buffered or in a flush that has
/// not succeeded — and once it is reached ``waitForRoom()`` suspends the caller: a guild actor then
/// stops taking events, its shard stops reading, and a flood slows the sockets instead of growing
/// memory. Nothing is dropped.
public final class StatsBuffer: Sendable {
    /// Changes held (buffered + unacknowledged) before recorders must wait.
    public let capacity: Int
    /// Buffered changes at which the flusher is woken before its interval ends.
    public let flushThreshold: Int

    /// Slots with changes since the last take, in the order they got their first one.
    private let listed = Mutex<[GuildStatsSlot]>([])
    /// Slots for ``record(guild:_:)``, for recorders without a slot of their own.
    private let sharedSlots = Mutex<[UInt64: GuildStatsSlot]>([:])
    /// Guilds' thread maps changed since the last claiming take (``record(_:of:)``).
    private let threadChanges = Mutex<[UInt64: ThreadMapChange]>([:])
    /// Every shard's lane; held through a take, so no lane starts or moves during one.
    private let lanes = Mutex<[Int: ShardLane]>([:])
    private let outstanding = Atomic<Int>(0)
    private let buffered = Atomic<Int>(0)
    private let waiters = Mutex<[CheckedContinuation<Void, Never>]>([])
    private let waits = Atomic<Int>(0)
    private let released = Atomic<Bool>(false)
    private let wake: AsyncStream<Void>.Continuation
    /// Yields when the flusher should flush early (the threshold was crossed).
    public let wakeups: AsyncStream<Void>
    private let wallClock: @Sendable () -> UInt64
    /// When the last take began (the buffer's creation before the first): what the next take's
    /// changes were all recorded after.
    private let lastTakeBegan: Atomic<UInt64>

    /// - Parameter wallClock: Unix milliseconds (``GuildStatsBatch/recordedAfter``).
    public init(
        capacity: Int = 1_000_000, flushThreshold: Int = 5_000, wallClock: @escaping @Sendable () -> UInt64 = GuildRouter.unixMilliseconds
    ) {
        precondition(capacity > 0 && flushThreshold > 0, "capacity and threshold must be positive")
        self.capacity = capacity
        self.flushThreshold = flushThreshold
        self.wallClock = wallClock
        lastTakeBegan = Atomic(wallClock())
        (wakeups, wake) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// A slot for one guild's recorder (a guild actor keeps one for its life).
    public func slot(for guild: UInt64) -> GuildStatsSlot {
        GuildStatsSlot(guild: guild)
    }

    /// Records changes of one guild in `slot`. Call ``waitForRoom()`` before, so the bound holds.
    public func record(in slot: GuildStatsSlot, _ change: (inout GuildStatsBatch) -> Void) {
        let (added, first) = slot.state.withLock { state in
            let before = state.batch.deltaCount
            change(&state.batch)
            let added = state.batch.deltaCount - before
            let first = added > 0 && !state.listed
            if first { state.listed = true }
            return (added, first)
        }
        guard added > 0 else { return }
        if first { listed.withLock { $0.append(slot) } }
        outstanding.wrappingAdd(added, ordering: .relaxed)
        let now = buffered.wrappingAdd(added, ordering: .relaxed).newValue
        if now >= flushThreshold && now - added < flushThreshold { wake.yield() }
    }

    /// Records changes of one guild in a slot the buffer keeps for it (a lookup per call; guild
    /// actors use ``record(in:_:)``).
    public func record(guild: UInt64, _ change: (inout GuildStatsBatch) -> Void) {
        let slot = sharedSlots.withLock { slots in
            if let slot = slots[guild] { return slot }
            let slot = GuildStatsSlot(guild: guild)
            slots[guild] = slot
            return slot
        }
        record(in: slot, change)
    }

    /// Records how a guild's thread map changed (inside its shard's lane move, like its stats).
    /// Not counted against the bound: a guild holds one change, at most as large as its map.
    public func record(_ change: ThreadMapChange, of guild: UInt64) {
        guard !change.isEmpty else { return }
        threadChanges.withLock { $0[guild, default: ThreadMapChange()].merge(change) }
    }

    /// Whether thread map changes wait for a take.
    public var holdsThreadChanges: Bool { threadChanges.withLock { !$0.isEmpty } }

    /// The lane of `shard`, created on first use (see ``ShardLane``).
    public func lane(for shard: Int) -> ShardLane {
        lanes.withLock { lanes in
            if let lane = lanes[shard] { return lane }
            let lane = ShardLane(shard: shard)
            lanes[shard] = lane
            return lane
        }
    }

    /// Whether a recorder must wait (``waitForRoom()``) before recording. Asked first, so the common
    /// case costs no call of an async function: that leaves the caller's actor and comes back to it,
    /// two task switches per event.
    @inline(__always)
    public var isFull: Bool {
        outstanding.load(ordering: .relaxed) >= capacity && !released.load(ordering: .relaxed)
    }

    /// Returns at once while there is room; otherwise waits until a flush is acknowledged.
    public func waitForRoom() async {
        guard isFull else { return }
        await withCheckedContinuation { continuation in
            let ready = waiters.withLock { waiters -> Bool in
                if outstanding.load(ordering: .relaxed) < capacity || released.load(ordering: .relaxed) { return true }
                waiters.append(continuation)
                return false
            }
            if !ready { waits.add(1, ordering: .relaxed) }
            if ready { continuation.resume() }
        }
    }

    /// Takes every buffered change, the thread maps' changes and the shards' positions those
    /// changes reach, exactly: no dispatch is recorded while it runs (every lane is held), so each
    /// shard's position is its last dispatch in the take.
    public func takeClaiming() -> (batches: [UInt64: GuildStatsBatch], positions: [Int: ShardPosition], threads: [UInt64: ThreadMapChange]) {
        lanes.withLock { lanes in
            for lane in lanes.values { lane.lock() }
            defer { for lane in lanes.values { lane.unlock() } }
            var positions: [Int: ShardPosition] = [:]
            for lane in lanes.values { positions[lane.shard] = lane.lockedPosition }
            let threads = threadChanges.withLock { changes in
                defer { changes.removeAll() }
                return changes
            }
            return (take(), positions, threads)
        }
    }

    /// Takes every buffered change, leaving the buffer empty (thread maps' changes stay: only a
    /// claiming take, which has the positions they need, returns them); the changes stay counted
    /// against the bound until ``acknowledge(_:)``. Two slots of one guild (an evicted actor's and its
    /// successor's) are merged in the order they were listed, so the older changes come first. Each
    /// batch's ``GuildStatsBatch/recordedAfter`` is when the take before began: a change recorded
    /// after a slot was taken waits in it for the next take.
    public func take() -> [UInt64: GuildStatsBatch] {
        let recordedAfter = lastTakeBegan.exchange(wallClock(), ordering: .relaxed)
        let slots = listed.withLock { listed in
            defer { listed.removeAll(keepingCapacity: true) }
            return listed
        }
        var taken: [UInt64: GuildStatsBatch] = [:]
        var count = 0
        for slot in slots {
            let batch = slot.state.withLock { state in
                defer {
                    state.batch = GuildStatsBatch()
                    state.listed = false
                }
                state.batch.recordedAfter = recordedAfter
                return state.batch
            }
            count += batch.deltaCount
            taken[slot.guild, default: GuildStatsBatch()].merge(batch)
        }
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

    /// How many times a recorder had to wait for room (``waitForRoom()``): each is a guild actor,
    /// and the shard feeding it, held back because Redis had not taken the changes before.
    public var backPressureWaits: Int { waits.load(ordering: .relaxed) }

    /// Wakes the flusher (its interval timer calls this).
    public func requestFlush() { wake.yield() }

    /// Stops holding recorders back, for good: at shutdown the shards must be able to finish their
    /// current event and close even while Redis is unreachable (what they record is still flushed,
    /// or reported unflushed, after them).
    public func stopHoldingBack() {
        released.store(true, ordering: .relaxed)
        let all = waiters.withLock { waiters in
            defer { waiters.removeAll() }
            return waiters
        }
        for waiter in all { waiter.resume() }
    }

    /// Stops the wake-up stream (the flusher's loop ends).
    public func finish() { wake.finish() }
}

/// One guild's changes waiting for a flush; owned by its recorder, listed in the buffer while it
/// holds any.
public final class GuildStatsSlot: Sendable {
    public let guild: UInt64
    fileprivate let state = Mutex<(batch: GuildStatsBatch, listed: Bool)>((GuildStatsBatch(), false))

    fileprivate init(guild: UInt64) {
        self.guild = guild
    }
}
