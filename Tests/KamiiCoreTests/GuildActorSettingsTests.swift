import DiscordModels
import KamiiCore
import KamiiStore
import Synchronization
import Testing

/// How a guild actor reads its settings and follows their changes: settings that cannot be read,
/// reads counted, plain rules and configured ones.
extension GuildActorTests {
    /// Settings that cannot be read while set to nil (a database gone away).
    final class FlakySettings: GuildSettingsSource {
        let current = Mutex<GuildSettings?>(nil)
        func settings(for guild: GuildID) async -> GuildSettings? { current.withLock { $0 } }
    }

    /// A guild whose settings cannot be read when its actor starts runs the defaults meanwhile, and
    /// its own settings from the first read that works (tried again after a while, not on every
    /// event, nor never).
    @Test func settingsThatCannotBeReadAtTheStartAreReadOnceTheyCanBe() async {
        var xpOff = GuildConfig()
        xpOff.modules.xp = false
        let source = CountedSettings()
        let clock = ManualClock()
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: source, clock: clock.read)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        await router.route(D.message(id: D.messageID(atSecond: 100), author: 11))
        #expect(source.reads.withLock { $0 } == 1, "asked once, then again only after a while")
        source.current.withLock { $0 = GuildSettings(xpOff) }
        clock.advance(5_000)
        await router.route(D.message(id: D.messageID(atSecond: 200), author: 12))
        await router.route(D.message(id: D.messageID(atSecond: 300), author: 13))
        let batch = batch(router)
        #expect(batch.grants.map(\.user).sorted() == [10, 11], "XP on the defaults, until the guild's own settings were read")
        #expect(batch.messages == [10: 1, 11: 1, 12: 1, 13: 1])
        #expect(source.reads.withLock { $0 } == 2)
    }

    /// ``FlakySettings`` that counts its reads.
    final class CountedSettings: GuildSettingsSource {
        let current = Mutex<GuildSettings?>(nil)
        let reads = Mutex(0)
        func settings(for guild: GuildID) async -> GuildSettings? {
            reads.withLock { $0 += 1 }
            return current.withLock { $0 }
        }
    }

    /// Plain rules (judged from plain values) and the same rules judged as configured ones (a no-XP
    /// list naming a channel nobody posts in) give the same grants and counts — with a 0-XP floor
    /// and no cooldown (1 ms in effect) too. Bounds: minimum, maximum, cooldown seconds.
    @Test(arguments: [[15, 25, 60], [0, 3, 0]])
    func plainRulesJudgeAsConfiguredOnesWould(_ bounds: [Int]) async {
        var plain = GuildConfig()
        (plain.xp.minPerMessage, plain.xp.maxPerMessage, plain.xp.cooldownSeconds) = (bounds[0], bounds[1], bounds[2])
        var configured = plain
        configured.xp.noXPChannels = [ChannelID(999)]
        #expect(GuildSettings(plain).xp?.plain != nil && GuildSettings(configured).xp?.plain == nil)
        var batches: [GuildStatsBatch] = []
        for config in [plain, configured] {
            // Past the actor's first cooldown, so that every cooldown is the actor's to judge.
            let router = router(GuildSettings(config))
            await router.route(D.message(id: D.messageID(atSecond: 0), author: 1))
            _ = router.stats.take()
            for index in 0..<60 as Range<UInt64> {
                // Three authors, some messages in the same millisecond, a bot's and a system message among them.
                let id = D.messageID(atSecond: 100 + index / 2 * 7, increment: index % 2)
                await router.route(D.message(id: id, author: 10 + index % 3, bot: index % 17 == 5, type: index % 13 == 4 ? 7 : 0))
            }
            batches.append(batch(router))
        }
        #expect(batches[0].grants == batches[1].grants)
        #expect(batches[0].messages == batches[1].messages)
        #expect(batches[0].grants.count > 3 && batches[0].grants.count < 50)
    }

    /// An actor judging messages by plain rules (the defaults) takes up a guild's configured rules
    /// from its next message once they change, and the plain ones again when they go back.
    @Test func aChangeFromPlainRulesToConfiguredOnesAndBackTakesEffect() async {
        var quiet = GuildConfig()
        quiet.xp.noXPChannels = [ChannelID(700)]
        let source = FlakySettings()
        source.current.withLock { $0 = .defaults }
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: source, clock: ManualClock().read)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10, channel: 700))
        source.current.withLock { $0 = GuildSettings(quiet) }
        router.settingsChanged(GuildID(D.guild))
        await router.route(D.message(id: D.messageID(atSecond: 100), author: 10, channel: 700))
        await router.route(D.message(id: D.messageID(atSecond: 200), author: 11, channel: 701))
        source.current.withLock { $0 = .defaults }
        router.settingsChanged(GuildID(D.guild))
        await router.route(D.message(id: D.messageID(atSecond: 300), author: 10, channel: 700))
        let batch = batch(router)
        let earned = [0, 200, 300].map { MessageID(D.messageID(atSecond: $0)).unixMilliseconds }
        #expect(batch.grants.map(\.messageTime) == earned, "nothing in the no-XP channel while it was one")
        #expect(batch.messages == [10: 3, 11: 1])
    }

    /// A changed configuration that cannot be read leaves the actor on the settings it has (not the
    /// defaults), and is asked for again after a while, not on every event.
    @Test func aChangeThatCannotBeReadKeepsTheSettingsAndIsAskedAgainLater() async {
        var xpOff = GuildConfig()
        xpOff.modules.xp = false
        let source = FlakySettings()
        source.current.withLock { $0 = GuildSettings(xpOff) }
        let clock = ManualClock()
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: source, clock: clock.read)
        await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
        source.current.withLock { $0 = nil }
        router.settingsChanged(GuildID(D.guild))
        await router.route(D.message(id: D.messageID(atSecond: 100), author: 10))
        source.current.withLock { $0 = .defaults }
        await router.route(D.message(id: D.messageID(atSecond: 200), author: 10))
        clock.advance(5_000)
        await router.route(D.message(id: D.messageID(atSecond: 300), author: 10))
        let batch = batch(router)
        #expect(batch.grants.map(\.messageTime) == [MessageID(D.messageID(atSecond: 300)).unixMilliseconds], "XP only once the change was read")
        #expect(batch.messages == [10: 4])
        #expect(batch.earliestMessageTime == MessageID(D.messageID(atSecond: 0)).unixMilliseconds, "counted with XP off, with its time")
    }

    /// While no settings could be read yet, a member event does not say whether the member is
    /// verified (the defaults name no verified role; the record's flag must stay), and a join is
    /// reported for the rewarder to judge; once the settings are read, both follow them.
    @Test func settingsNotReadYetJudgeNoVerificationAndReportJoins() async throws {
        var config = GuildConfig()
        config.verifiedRole = RoleID(900)
        let source = FlakySettings()
        let clock = ManualClock()
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: source, clock: clock.read)
        let (early, late) = (UInt64(42) << 22, UInt64(43) << 22)
        func join(_ user: UInt64) async {
            await router.route(D.dispatch("GUILD_MEMBER_ADD", """
                {"guild_id":"\(D.guild)","user":{"id":"\(user)","username":"x","avatar":null},"roles":["900"],\
                "joined_at":"2025-12-31T23:58:00.000000+00:00","pending":false}
                """))
        }
        await join(early)
        source.current.withLock { $0 = GuildSettings(config) }
        clock.advance(5_000)
        await join(late)
        let profiles = batch(router).profiles
        #expect(try #require(profiles[early]).isVerified == nil, "no verified role known yet: the record's flag stays")
        #expect(try #require(profiles[late]).isVerified == true)
        let reported = profiles.filter(\.value.restoresRewards).keys.sorted()
        #expect(reported == [early], "reported while the rewards were unknown; not once the settings say there are none")
    }
}
