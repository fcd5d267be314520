import DiscordModels

/// What a guild actor remembers about karma: which reactions gave it (so removing one takes it
/// back), when each giver last gave to each receiver (the pair cooldown), and which members are
/// bots (bots neither give nor receive). Bounded: past ``capacity`` records the oldest half is
/// forgotten, and removing a forgotten reaction takes nothing back. It lives in the guild actor
/// only: an evicted or restarted actor forgets which reactions gave karma (their removal then
/// takes nothing back) and which members are bots.
struct KarmaLedger {
    static let capacity = 4_096

    private struct Reaction: Hashable {
        let message: UInt64
        let giver: UInt64
        let emoji: Int
    }

    private struct Pair: Hashable {
        let giver: UInt64
        let receiver: UInt64
    }

    private var given: [Reaction: (receiver: UInt64, order: Int)] = [:]
    private var lastGiven: [Pair: UInt64] = [:]
    private var bots: Set<UInt64> = []
    private var counter = 0

    mutating func noteBot(_ user: UInt64) {
        if bots.count < Self.capacity { bots.insert(user) }
    }

    /// The member who receives karma for this reaction, or nil when it gives none.
    mutating func give(_ reaction: ReactionFields, emoji: Int, rules: KarmaRules, now: UInt64) -> UInt64? {
        let giver = reaction.userID
        guard !reaction.userIsBot, !bots.contains(giver), let receiver = reaction.messageAuthorID, receiver != giver,
              !bots.contains(receiver)
        else { return nil }
        let key = Reaction(message: reaction.messageID, giver: giver, emoji: emoji)
        guard given[key] == nil else { return nil }
        let pair = Pair(giver: giver, receiver: receiver)
        if let last = lastGiven[pair], now < last &+ rules.cooldownMilliseconds { return nil }
        lastGiven[pair] = now
        if lastGiven.count > Self.capacity {
            // Only cooldowns still running matter; drop the rest (all of them when none has a cooldown).
            lastGiven = lastGiven.filter { now < $0.value &+ rules.cooldownMilliseconds }
        }
        counter += 1
        given[key] = (receiver, counter)
        if given.count > Self.capacity { forgetOldestHalf() }
        return receiver
    }

    /// The member whose karma this removal takes back, or nil when the reaction gave none.
    mutating func takeBack(_ reaction: ReactionFields, emoji: Int) -> UInt64? {
        given.removeValue(forKey: Reaction(message: reaction.messageID, giver: reaction.userID, emoji: emoji))?.receiver
    }

    private mutating func forgetOldestHalf() {
        let cut = counter - Self.capacity / 2
        given = given.filter { $0.value.order > cut }
    }
}
