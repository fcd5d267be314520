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

    private var bots: Set<UInt64> = []
    /// Bots already sent to the flush for Redis to keep (``GuildStatsBatch/karmaBots``).
    private var reported: Set<UInt64> = []

    /// Remembers a bot.
    mutating func noteBot(_ user: UInt64) {
        if bots.count < Self.capacity { bots.insert(user) }
    }

    /// Whether the bot is yet to be sent to the flush, and from now on counts as sent. Kept apart
    /// from ``noteBot(_:)``: a bot seen while karma was off is sent when seen again after it is
    /// switched on. Past the capacity every sighting of a bot not kept is sent (Redis's set takes a
    /// bot once): Redis is then the only one to know it, and a bot it never heard of would receive karma.
    mutating func reports(_ bot: UInt64) -> Bool {
        guard reported.count < Self.capacity else { return !reported.contains(bot) }
        return reported.insert(bot).inserted
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
