#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One shard's place in the ``StatsBuffer``: the last of its dispatches whose changes are
/// recorded.
///
/// A dispatch's changes and the lane's move past it happen under the lane's lock, and a take holds
/// every lane's lock while it empties the buffer: the positions a take returns cover exactly the
/// changes it returns. A dispatch is in the take and claimed by it, or in neither — so a process
/// killed after a flush resumes right after the last dispatch that flush applied, and nothing is
/// counted twice.
///
/// A pthread mutex rather than `Mutex`: a take locks a variable number of lanes at once, which
/// scoped locking cannot express. The lock is uncontended except while a take runs (a shard's
/// dispatches are handled one at a time).
public final class ShardLane: @unchecked Sendable {
    public let shard: Int
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    /// Guarded by `mutex`.
    private var last: ShardPosition?

    init(shard: Int) {
        self.shard = shard
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// Runs `changes` (which record the dispatch's changes in the buffer), then moves the lane to
    /// `position`, with no take in between.
    public func advance<Result, Failure: Error>(
        to position: ShardPosition, _ changes: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        lock()
        defer {
            last = position
            unlock()
        }
        return try changes()
    }

    /// Moves the lane to `position` (a dispatch with no changes to record).
    public func advance(to position: ShardPosition) {
        advance(to: position) {}
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Only while locked.
    var lockedPosition: ShardPosition? { last }
}
