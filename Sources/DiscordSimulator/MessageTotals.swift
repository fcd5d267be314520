import CMemoryHints
import DiscordModels

/// The ground truth's per-message counters of each (guild, user) — messages, messages that earned
/// XP, XP, the last XP's time — in one open-addressing table of plain 40-byte slots.
///
/// Every MESSAGE_CREATE the simulator sends updates one of these, at hundreds of thousands a
/// second, among up to millions of (guild, user) pairs: far more than any cache holds. A
/// `Dictionary` of the whole ``GroundTruth/Member`` (SipHash, then its metadata, key and value
/// arrays, a value of ≈ 100 bytes) cost three or four cache misses per message; a slot found by a
/// multiplicative hash costs one. What messages do not touch (reactions, joins, roles) stays in a
/// dictionary beside it.
struct MessageTotals {
    struct Totals: Equatable {
        var messages = 0
        var messagesEarningXP = 0
        var xp = 0
        var lastXPAt: UInt64?
    }

    private struct Slot {
        /// 0: an empty slot (no guild's ID is 0).
        var guild: UInt64 = 0
        var user: UInt64 = 0
        var xp: Int = 0
        /// `UInt64.max`: no XP yet.
        var lastXPAt: UInt64 = .max
        var messages: UInt32 = 0
        var messagesEarningXP: UInt32 = 0
    }

    private var slots: [Slot]
    private var shift: UInt64
    private(set) var count = 0

    init() {
        slots = Array(repeating: Slot(), count: 1 << 10)
        shift = 64 - 10
    }

    /// The counters of `user` in `guild`; nil when they never posted.
    func totals(guild: GuildID, user: UserID) -> Totals? {
        let slot = slots[probe(guild.rawValue, user.rawValue)]
        return slot.guild == 0 ? nil : Self.totals(of: slot)
    }

    /// Changes the counters of `user` in `guild` (zeros when they never posted).
    mutating func update(guild: GuildID, user: UserID, _ change: (inout Totals) -> Void) {
        let guild = guild.rawValue, user = user.rawValue
        var index = probe(guild, user)
        if slots[index].guild == 0 {
            // A new pair: grown first when that would fill the table past 70 %, so probes stay short.
            if (count + 1) * 10 > slots.count * 7 {
                grow()
                index = probe(guild, user)
            }
            slots[index].guild = guild
            slots[index].user = user
            count += 1
        }
        var totals = Self.totals(of: slots[index])
        change(&totals)
        // Counts past a 32-bit slot's stay at its limit (no pair sends four billion messages).
        slots[index].messages = UInt32(clamping: totals.messages)
        slots[index].messagesEarningXP = UInt32(clamping: totals.messagesEarningXP)
        slots[index].xp = totals.xp
        slots[index].lastXPAt = totals.lastXPAt ?? .max
    }

    /// Starts loading the slot where the probe for `user` in `guild` begins, so an ``update(guild:user:_:)``
    /// a little later finds it in the cache (a slot is 40 bytes: almost always the line it needs).
    func prefetch(guild: GuildID, user: UserID) {
        let index = home(guild.rawValue, user.rawValue)
        slots.withUnsafeBufferPointer { kamii_prefetch_write($0.baseAddress! + index) }
    }

    /// Every pair's counters.
    func forEach(_ body: (GuildID, UserID, Totals) -> Void) {
        for slot in slots where slot.guild != 0 {
            body(GuildID(slot.guild), UserID(slot.user), Self.totals(of: slot))
        }
    }

    private static func totals(of slot: Slot) -> Totals {
        Totals(
            messages: Int(slot.messages), messagesEarningXP: Int(slot.messagesEarningXP), xp: slot.xp,
            lastXPAt: slot.lastXPAt == .max ? nil : slot.lastXPAt)
    }

    /// The pair's slot, or the empty slot where it would go (the table is never full).
    private func probe(_ guild: UInt64, _ user: UInt64) -> Int {
        var index = home(guild, user)
        while slots[index].guild != 0, slots[index].guild != guild || slots[index].user != user {
            index = (index + 1) & (slots.count - 1)
        }
        return index
    }

    /// Where a pair's probe starts: both IDs mixed, then the top bits of a multiplicative hash
    /// (snowflakes differ mostly in their middle bits, which the multiply carries to the top).
    private func home(_ guild: UInt64, _ user: UInt64) -> Int {
        var mixed = guild &* 0x9E37_79B9_7F4A_7C15 ^ user
        mixed ^= mixed >> 29
        return Int(truncatingIfNeeded: (mixed &* 0xBF58_476D_1CE4_E5B9) >> shift)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        shift -= 1
        for slot in old where slot.guild != 0 {
            var index = home(slot.guild, slot.user)
            while slots[index].guild != 0 { index = (index + 1) & (slots.count - 1) }
            slots[index] = slot
        }
    }
}
