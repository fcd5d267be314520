import DiscordModels

/// What a guild actor remembers about karma: which members are bots (bots neither give nor receive
/// karma; the flush keeps those it saw in Redis too, for actors that have not seen them yet). The
/// rest is Redis's, applied by the flush, so it outlives the actor (evicted, or a
/// restarted process): its ledger of which reactions gave karma (``GuildStatsBatch/KarmaReaction``
/// — a removal takes back what its reaction gave, a replayed reaction gives nothing twice) and each
/// pair's last karma (the pair cooldown, judged on the bot's wall clock when the reaction was
/// received). An actor that judged the cooldown itself would, once fresh, hold back a pair on the
/// strength of a reaction Redis then refused.
struct KarmaGate {
    static let capacity = 4_096
    /// How long a bot once sent to the flush is not sent again: seen after that, it is, so a Redis
    /// that lost `:bots` (a guild reloaded from SQL, which does not keep them) knows the guild's
    /// active bots again within the hour, not only once a fresh actor sees them.
    static let reportMilliseconds: UInt64 = 3_600_000

    private var bots: Set<UInt64> = []
    /// Bots sent to the flush for Redis to keep (``GuildStatsBatch/karmaBots``), and when (the
    /// router's clock).
    private var reported = MemberTimes()

    /// Remembers a bot.
    mutating func noteBot(_ user: UInt64) {
        if bots.count < Self.capacity { bots.insert(user) }
    }

    /// Whether the bot, seen `now` (milliseconds, the router's clock), is to be sent to the flush:
    /// not sent yet, or not for ``reportMilliseconds``. Kept apart from ``noteBot(_:)``: a bot seen
    /// while karma was off is sent when seen again after it is switched on. Past the capacity every
    /// sighting of a bot not kept is sent (Redis's set takes a bot once): Redis is then the only
    /// one to know it, and a bot it never heard of would receive karma.
    mutating func reports(_ bot: UInt64, at now: UInt64) -> Bool {
        if let last = reported[bot] {
            guard now >= last, now - last >= Self.reportMilliseconds else { return false }
        } else if reported.count >= Self.capacity {
            return true
        }
        reported[bot] = now
        return true
    }

    /// The member who would receive karma for this reaction, or nil when the rules give none: a
    /// reaction by its message's author, by a bot, or to a bot's message.
    func receiver(of reaction: ReactionFields) -> UInt64? {
        guard !reaction.userIsBot, !bots.contains(reaction.userID), let receiver = reaction.messageAuthorID, receiver != reaction.userID,
              !bots.contains(receiver)
        else { return nil }
        return receiver
    }

    /// Whether a removal may take karma back (the ledger says from whom): not one by a bot.
    func mayTakeBack(_ reaction: ReactionFields) -> Bool {
        !reaction.userIsBot && !bots.contains(reaction.userID)
    }
}
