import DiscordModels
import KamiiCore
import KamiiStore
import Testing

/// What a guild actor sends the flush for karma: reactions its rules allow, removals and clears
/// keyed by the reaction's own emoji, the bots it sees.
extension GuildActorTests {
    /// A router for guilds with karma on (👍, no pair cooldown), receiving everything at `receivedAt`.
    func karmaRouter() -> GuildRouter {
        var config = GuildConfig()
        config.modules.karma = true
        config.karma.cooldownSeconds = 0
        return router(GuildSettings(config), wallClock: { Self.receivedAt })
    }

    /// The actor passes on the reactions its rules allow (karma emoji, no self-karma, no bots) and
    /// every removal but a bot's: Redis's ledger then gives once per reaction and takes back
    /// only what a reaction gave (`StatsFlusherTests`).
    @Test func karmaReactionsGoToTheLedgerWhenTheRulesAllow() async {
        let router = karmaRouter()
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2))
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2))  // the same reaction again
        await router.route(D.reaction(added: true, message: 501, giver: 3, author: 2))
        await router.route(D.reaction(added: true, message: 502, giver: 2, author: 2))  // self
        await router.route(D.reaction(added: true, message: 503, giver: 4, author: 2, emoji: "🔥"))  // not a karma emoji
        await router.route(D.reaction(added: true, message: 504, giver: 5, author: 2, giverIsBot: true))
        await router.route(D.reaction(added: false, message: 500, giver: 1, author: 2))
        await router.route(D.reaction(added: false, message: 503, giver: 4, author: 2, emoji: "🔥"))
        await router.route(D.reaction(added: false, message: 504, giver: 5, author: 2, giverIsBot: true))
        let (thumbs, fire) = (KarmaRules.emojiKey("👍"), KarmaRules.emojiKey("🔥"))
        let at = Self.receivedAt
        #expect(batch(router).karmaReactions == [
            .init(message: 500, giver: 1, emoji: thumbs, receiver: 2, givenAt: at), .init(message: 500, giver: 1, emoji: thumbs, receiver: 2, givenAt: at),
            .init(message: 501, giver: 3, emoji: thumbs, receiver: 2, givenAt: at), .init(message: 500, giver: 1, emoji: thumbs, receiver: nil),
            // Any emoji's removal goes to the ledger, which takes back only what a reaction gave
            // (🔥 may have been a karma emoji when it was given).
            .init(message: 503, giver: 4, emoji: fire, receiver: nil),
        ])
    }

    /// The ledger keys a reaction by its own emoji (a custom emoji by its ID), not by how the guild's
    /// list spells it: a removal after an admin respelt or dropped the emoji still reaches what
    /// the reaction gave. A removal also takes back under the configured text's key, which is how
    /// reactions given before were keyed.
    @Test func aReactionIsKeyedByItsOwnEmojiNotTheConfiguredText() async {
        func karma(_ emoji: [String]) -> GuildRouter {
            var config = GuildConfig()
            config.modules.karma = true
            config.karma.emoji = emoji
            return router(GuildSettings(config), wallClock: { Self.receivedAt })
        }
        let upvote = KarmaRules.emojiKey("123456789012345678")
        #expect(upvote != KarmaRules.emojiKey("upvote:123456789012345678"))
        let spelt = karma(["upvote:123456789012345678"])
        await spelt.route(D.reaction(added: true, message: 500, giver: 1, author: 2, emoji: "upvote", emojiID: 123_456_789_012_345_678))
        await spelt.route(D.reaction(added: false, message: 500, giver: 1, author: 2, emoji: "upvote", emojiID: 123_456_789_012_345_678))
        #expect(batch(spelt).karmaReactions == [
            .init(message: 500, giver: 1, emoji: upvote, receiver: 2, givenAt: Self.receivedAt), .init(message: 500, giver: 1, emoji: upvote, receiver: nil),
            .init(message: 500, giver: 1, emoji: KarmaRules.emojiKey("upvote:123456789012345678"), receiver: nil),
        ])
        for list in [["upvote"], ["⭐"]] {
            let changed = karma(list)
            await changed.route(D.reaction(added: false, message: 500, giver: 1, author: 2, emoji: "upvote", emojiID: 123_456_789_012_345_678))
            #expect(batch(changed).karmaReactions.first == .init(message: 500, giver: 1, emoji: upvote, receiver: nil), "\(list)")
        }
        // A Unicode emoji's key is its text's, as before.
        let star = karma(["⭐"])
        await star.route(D.reaction(added: true, message: 501, giver: 1, author: 2, emoji: "⭐", burst: true))
        #expect(batch(star).karmaReactions.map(\.emoji) == [KarmaRules.emojiKey("⭐", burst: true)])
    }

    /// A bot the actor sees (its message, a member event, its reaction) goes to the flush once while
    /// karma is on, for Redis to keep from karma; with karma off, none does.
    @Test func botsSeenWhileKarmaIsOnGoToTheFlushOnce() async {
        let router = karmaRouter()
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 90, bot: true))
        await router.route(D.message(id: D.messageID(atSecond: 1), author: 90, bot: true))
        await router.route(D.reaction(added: true, message: 500, giver: 91, author: 2, giverIsBot: true))
        await router.route(D.message(id: D.messageID(atSecond: 2), author: 40))
        #expect(batch(router).karmaBots == [90, 91])
        let off = self.router()
        await off.route(D.message(id: D.messageID(atSecond: 0), author: 90, bot: true))
        #expect(off.stats.take().isEmpty)
        // Seen while karma was off, then again after an admin switched it on: sent then.
        let source = CountedSettings()
        source.current.withLock { $0 = .defaults }
        let switched = GuildRouter(stats: StatsBuffer(), settings: source, clock: ManualClock().read)
        await switched.route(D.message(id: D.messageID(atSecond: 0), author: 90, bot: true))
        var on = GuildConfig()
        on.modules.karma = true
        source.current.withLock { $0 = GuildSettings(on) }
        switched.settingsChanged(GuildID(D.guild))
        await switched.route(D.message(id: D.messageID(atSecond: 1), author: 90, bot: true))
        #expect(batch(switched).karmaBots == [90])
        // Seen again an hour later: sent again (Redis may have lost its `:bots` meanwhile).
        let clock = ManualClock()
        var config = GuildConfig()
        config.modules.karma = true
        let hourly = self.router(GuildSettings(config), clock: clock)
        await hourly.route(D.message(id: D.messageID(atSecond: 0), author: 90, bot: true))
        clock.advance(3_600_000 - 1)  // an hour less a millisecond
        await hourly.route(D.message(id: D.messageID(atSecond: 1), author: 90, bot: true))
        clock.advance(1)
        await hourly.route(D.message(id: D.messageID(atSecond: 2), author: 90, bot: true))
        #expect(batch(hourly).karmaBots == [90, 90])
    }

    /// A member's super reaction and normal reaction with the same emoji on one message are two
    /// reactions to the ledger: removing one leaves what the other gave.
    @Test func aSuperReactionIsKeptApartFromTheNormalOne() async {
        let router = karmaRouter()
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2))
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2, burst: true))
        await router.route(D.reaction(added: false, message: 500, giver: 1, author: 2, burst: true))
        let (thumbs, superThumbs) = (KarmaRules.emojiKey("👍"), KarmaRules.emojiKey("👍", burst: true))
        #expect(thumbs != superThumbs)
        let at = Self.receivedAt
        #expect(batch(router).karmaReactions == [
            .init(message: 500, giver: 1, emoji: thumbs, receiver: 2, givenAt: at), .init(message: 500, giver: 1, emoji: superThumbs, receiver: 2, givenAt: at),
            .init(message: 500, giver: 1, emoji: superThumbs, receiver: nil),
        ])
    }

    /// A message's reactions cleared, all of them or one emoji's: one clear, every giver at once
    /// (Discord names none), the emoji's normal and super reactions.
    @Test func clearedReactionsAreTakenBackPerEmoji() async {
        var config = GuildConfig()
        config.modules.karma = true
        config.karma.emoji = ["👍", "⭐"]
        let router = router(GuildSettings(config))
        await router.route(D.dispatch("MESSAGE_REACTION_REMOVE_ALL", #"{"message_id":"600","channel_id":"700","guild_id":"\#(D.guild)"}"#))
        await router.route(D.dispatch(
            "MESSAGE_REACTION_REMOVE_EMOJI", #"{"message_id":"601","emoji":{"name":"⭐","id":null},"channel_id":"700","guild_id":"\#(D.guild)"}"#))
        await router.route(D.dispatch(
            "MESSAGE_REACTION_REMOVE_EMOJI", #"{"message_id":"602","emoji":{"name":"🔥","id":null},"channel_id":"700","guild_id":"\#(D.guild)"}"#))
        #expect(batch(router).karmaReactions == [
            .cleared(600, emoji: nil), .cleared(601, emojiKeys: [KarmaRules.emojiKey("⭐"), KarmaRules.emojiKey("⭐", burst: true)]),
            // Not a karma emoji now, but it may have been when its reactions were given.
            .cleared(602, emojiKeys: [KarmaRules.emojiKey("🔥"), KarmaRules.emojiKey("🔥", burst: true)]),
        ])
        #expect(router.counters.malformed == 0)
    }

    /// The pair cooldown is the flush's to judge (against the pair's last karma in Redis,
    /// `KarmaLedgerTests`): every reaction the rules allow goes to it, with when it was received and
    /// the guild's cooldown.
    @Test func karmaBetweenTheSamePairGoesToTheFlushWithItsTime() async {
        var config = GuildConfig()
        config.modules.karma = true
        config.karma.cooldownSeconds = 60
        let wall = ManualClock()
        wall.set(Self.receivedAt)
        let router = router(GuildSettings(config), wallClock: wall.read)
        await router.route(D.reaction(added: true, message: 600, giver: 1, author: 2))
        wall.advance(30_000)
        await router.route(D.reaction(added: true, message: 601, giver: 1, author: 2))
        await router.route(D.reaction(added: true, message: 601, giver: 3, author: 2))
        let batch = batch(router)
        #expect(batch.karmaReactions.map { [$0.message, $0.giver, $0.givenAt - Self.receivedAt] } == [[600, 1, 0], [601, 1, 30_000], [601, 3, 30_000]])
        #expect(batch.karmaCooldownMilliseconds == 60_000)
    }

    @Test func karmaIsOffUnlessTheGuildSwitchesItOn() async {
        let router = router()
        await router.route(D.reaction(added: true, message: 500, giver: 1, author: 2))
        #expect(router.stats.take().isEmpty)
    }
}
