/// Times (or any 64-bit value) by member snowflake: what a guild actor looks up on almost every
/// message, so an open-addressing table of 16-byte slots with a multiplicative hash rather than a
/// `Dictionary` (whose SipHash of each key was 40 % of a lookup's samples in profiles).
///
/// Linear probing; a removal shifts the rest of its run back, so no slot is ever a tombstone and a
/// lookup stops at the first empty slot. Key 0 marks an empty slot, so member 0 (no snowflake is 0,
/// but tests use small numbers) is kept beside the slots.
struct MemberTimes {
    private struct Slot {
        var key: UInt64
        var value: UInt64
    }

    /// Empty, or a power of two of slots at most 70 % full.
    private var slots: [Slot] = []
    private var zeroValue: UInt64?
    /// Members held.
    private(set) var count = 0

    private static let smallestCapacity = 4

    var isEmpty: Bool { count == 0 }

    subscript(member: UInt64) -> UInt64? {
        get {
            guard member != 0 else { return zeroValue }
            guard let index = find(member), slots[index].key == member else { return nil }
            return slots[index].value
        }
        set {
            if let newValue {
                insert(newValue, for: member)
            } else {
                removeValue(forKey: member)
            }
        }
    }

    /// Removes `member`; returns the value it had.
    @discardableResult
    mutating func removeValue(forKey member: UInt64) -> UInt64? {
        guard member != 0 else {
            let removed = zeroValue
            if removed != nil { count -= 1 }
            zeroValue = nil
            return removed
        }
        guard let found = find(member), slots[found].key == member else { return nil }
        let removed = slots[found].value
        let mask = slots.count - 1
        var gap = found
        var next = (gap + 1) & mask
        while slots[next].key != 0 {
            // The slot at `next` may fill the gap when the gap lies on its probe path (between its
            // home and where it is): then a lookup still reaches it without crossing an empty slot.
            if (next &- home(slots[next].key)) & mask >= (next &- gap) & mask {
                slots[gap] = slots[next]
                gap = next
            }
            next = (next + 1) & mask
        }
        slots[gap] = Slot(key: 0, value: 0)
        count -= 1
        return removed
    }

    /// Keeps only the members `isIncluded` accepts; the storage shrinks to fit what stays.
    mutating func keepOnly(where isIncluded: (_ member: UInt64, _ value: UInt64) -> Bool) {
        let old = slots
        let oldZero = zeroValue
        self = MemberTimes()
        if let oldZero, isIncluded(0, oldZero) { insert(oldZero, for: 0) }
        for slot in old where slot.key != 0 && isIncluded(slot.key, slot.value) {
            insert(slot.value, for: slot.key)
        }
    }

    /// Calls `body` with every member and its value, in no particular order.
    func forEach(_ body: (_ member: UInt64, _ value: UInt64) -> Void) {
        if let zeroValue { body(0, zeroValue) }
        for slot in slots where slot.key != 0 { body(slot.key, slot.value) }
    }

    private mutating func insert(_ value: UInt64, for member: UInt64) {
        guard member != 0 else {
            if zeroValue == nil { count += 1 }
            zeroValue = value
            return
        }
        if (count + 1) * 10 > slots.count * 7 { grow() }
        let index = find(member)!
        if slots[index].key == 0 { count += 1 }
        slots[index] = Slot(key: member, value: value)
    }

    /// The slot holding `member`, or the empty slot where it would go; nil when there are no slots.
    @inline(__always)
    private func find(_ member: UInt64) -> Int? {
        guard !slots.isEmpty else { return nil }
        let mask = slots.count - 1
        var index = home(member)
        while slots[index].key != member && slots[index].key != 0 {
            index = (index + 1) & mask
        }
        return index
    }

    /// Where `member`'s probe starts: the top log2(slots) bits of its Fibonacci hash, which every
    /// bit of the snowflake (timestamp, worker, increment) moves. Only called with slots.
    @inline(__always)
    private func home(_ member: UInt64) -> Int {
        Int(truncatingIfNeeded: (member &* 0x9E37_79B9_7F4A_7C15) >> UInt64(64 - slots.count.trailingZeroBitCount))
    }

    private mutating func grow() {
        let old = slots
        let capacity = Swift.max(Self.smallestCapacity, old.count * 2)
        slots = Array(repeating: Slot(key: 0, value: 0), count: capacity)
        let mask = capacity - 1
        for slot in old where slot.key != 0 {
            var index = home(slot.key)
            while slots[index].key != 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }
}
