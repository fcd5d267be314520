import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Process-wide counts of what the hot path did, read by reports and metrics.
///
/// Each thread adds to one of 64 cells, picked by hashing the thread's identity, rather than to one
/// set of counters: a shared counter is a cache line every core writes on every event, moved from
/// core to core each time — a cost that grows with the cores, for numbers read once a second.
/// Reads add the cells up. Two threads may hash to the same cell (the counts stay exact, the cell's
/// line is then shared by those two); where there is no Glibc every thread uses the first cell.
/// Picking a cell costs no reference counting per event (`Benchmarks/Live/reference_counts.sh`:
/// 7.57 retains per dispatch with the cells and without them).
public final class HotPathCounters: Sendable {
    /// One thread's counts (relaxed atomics: a thread may share its cell with another).
    final class Cell: Sendable {
        let routed = Atomic<Int>(0)
        let messages = Atomic<Int>(0)
        let grants = Atomic<Int>(0)
        let malformed = Atomic<Int>(0)
        /// Room after the counts, so the next cell's (allocated after this one) are on other cache lines.
        private let padding: (Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    private let cells: [Cell] = (0..<64).map { _ in Cell() }

    public init() {}

    /// The calling thread's cell.
    var local: Cell {
        @inline(__always) get { cells[Self.threadIndex()] }
    }

    /// Dispatches routed to a guild actor.
    public var routed: Int { total { $0.routed.load(ordering: .relaxed) } }
    /// MESSAGE_CREATE events read.
    public var messages: Int { total { $0.messages.load(ordering: .relaxed) } }
    /// Messages that earned XP (before Redis's re-check).
    public var grants: Int { total { $0.grants.load(ordering: .relaxed) } }
    /// Hot events whose payload could not be read (counted, then skipped).
    public var malformed: Int { total { $0.malformed.load(ordering: .relaxed) } }

    private func total(_ count: (Cell) -> Int) -> Int {
        cells.reduce(0) { $0 &+ count($1) }
    }

    /// 0–63 from the thread's identity (on Linux the address of its control block, which differs
    /// between threads by at least a stack's size), scrambled so neighbouring threads spread.
    @inline(__always)
    private static func threadIndex() -> Int {
        #if canImport(Glibc)
        return Int(truncatingIfNeeded: (UInt64(pthread_self()) &* 0x9E37_79B9_7F4A_7C15) >> 58)
        #else
        return 0
        #endif
    }
}
