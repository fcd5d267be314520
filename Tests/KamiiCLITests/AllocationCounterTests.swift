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

        let off = kamii_allocation_count()
        for index in 0..<1_000 { arrays[index] = Array(repeating: index, count: 5) }
        #expect(kamii_allocation_count() == off)
        #expect(arrays.count == 1_000)
    }
}
