import CAllocationCounter
import Testing

/// The allocation functions the kamii executable defines (and this test bundle, which links them):
/// libraries' allocations reach them, and they count only while asked to.
struct AllocationCounterTests {
    @Test func countsTheSwiftRuntimesAllocationsOnlyWhileOn() {
        kamii_allocation_counting(true)
        let before = kamii_allocation_count()
        // Each array's buffer is allocated by libswiftCore, a shared library: counted only if its
        // calls reach the executable's malloc.
        var arrays: [[Int]] = []
        arrays.reserveCapacity(1_000)
        for index in 0..<1_000 { arrays.append(Array(repeating: index, count: 3)) }
        let counted = kamii_allocation_count() - before
        kamii_allocation_counting(false)
        #expect(counted >= 1_000, "\(counted)")

        #expect(kamii_allocation_count_on_this_thread() >= 1_000, "counted on the thread that made them")

        // Off, this thread's thousand allocations go uncounted. (A test measuring at the same moment,
        // in a parallel run, turns counting on for everyone: the check gets three tries.)
        var uncounted = false
        for _ in 0..<3 where !uncounted {
            let off = kamii_allocation_count_on_this_thread()
            for index in 0..<1_000 { arrays[index] = Array(repeating: index, count: 5) }
            uncounted = kamii_allocation_count_on_this_thread() - off < 1_000
        }
        #expect(uncounted)
        #expect(arrays.count == 1_000)
    }
}
