import DiscordModels

/// What a guild actor remembers about karma: when each giver last gave to each receiver (the pair
/// cooldown) and which members are bots (bots neither give nor receive). Which reactions gave
/// karma is Redis's ledger (``GuildStatsBatch/KarmaReaction``): it outlives the actor, so a removal
/// takes back what its reaction gave after an eviction or a restart too, and a replayed reaction
/// gives nothing twice. Its cooldowns are a cache too: the flush holds each giving reaction to the
/// pair's last karma, which Redis keeps until the cooldown ends. What is lost with the actor is only
/// the bots it saw.
struct KarmaGate {
    static let capacity = 4_096

    private struct Pair: Hashable {
        let giver: UInt64
        let receiver: UInt64
    }

    private var lastGiven: [Pair: UInt64] = [:]
    /// The pair count at which expired cooldowns are dropped next: twice what the last compaction
    /// kept, so a guild with many cooldowns running compacts now and then, not on every reaction.
    private var compactAt = KarmaGate.capacity
    /// How many times expired cooldowns were dropped (for tests).
    private(set) var compactions = 0
    private var bots: Set<UInt64> = []

    mutating func noteBot(_ user: UInt64) {
        if bots.count < Self.capacity { bots.insert(user) }
    }

    /// The member who receives karma for this reaction, or nil when the rules give none.
    mutating func give(_ reaction: ReactionFields, rules: KarmaRules, now: UInt64) -> UInt64? {
        let giver = reaction.userID
        guard !reaction.userIsBot, !bots.contains(giver), let receiver = reaction.messageAuthorID, receiver != giver,
              !bots.contains(receiver)
        else { return nil }
        let pair = Pair(giver: giver, receiver: receiver)
        if let last = lastGiven[pair], now < last &+ rules.cooldownMilliseconds { return nil }
        lastGiven[pair] = now
        if lastGiven.count > compactAt {
            // Only cooldowns still running matter; drop the rest (all of them when none has a cooldown).
            lastGiven = lastGiven.filter { now < $0.value &+ rules.cooldownMilliseconds }
            compactAt = max(Self.capacity, lastGiven.count * 2)
            compactions += 1
        }
        return receiver
    }

    /// Whether a removal may take karma back (the ledger says from whom): not one by a bot.
    func mayTakeBack(_ reaction: ReactionFields) -> Bool {
        !reaction.userIsBot && !bots.contains(reaction.userID)
    }
}
