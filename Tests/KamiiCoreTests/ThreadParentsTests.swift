import DiscordGateway
import DiscordModels
import Foundation
import KamiiCore
import KamiiStore
import Testing

/// Threads and forum posts follow their channel's XP rules: the router learns which channel each
/// active thread is in from the gateway, in the shard's order.
struct ThreadParentsTests {
    typealias D = TestDispatches

    static func thread(_ name: String, id: UInt64, parent: UInt64?, archived: Bool = false) -> ShardDispatch {
        let parentField = parent.map { #""parent_id":"\#($0)""# } ?? #""parent_id":null"#
        return D.dispatch(name, """
            {"type":11,"id":"\(id)","guild_id":"\(D.guild)",\(parentField),"name":"t","owner_id":"5",\
            "thread_metadata":{"locked":false,"archived":\(archived),"auto_archive_duration":1440},"member_count":1}
            """)
    }

    static let guild = GuildID(D.guild)

    @Test func threadsAreLearntFromEveryEventThatNamesThem() {
        let threads = ThreadParents()
        func parent(_ id: UInt64) -> UInt64? { threads.parent(of: id, in: Self.guild) }
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 899, parent: 699)) != nil)
        // GUILD_CREATE lists every active thread: what was known before is replaced.
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", """
            {"id":"\(D.guild)","channels":[{"id":"700","type":0}],"members":[{"user":{"id":"1"}}],\
            "threads":[{"id":"900","parent_id":"700","type":11,"thread_metadata":{"archived":false}},\
            {"id":"901","parent_id":"701","type":12}],"member_count":3}
            """)) == ThreadMapChange(replacesAll: true, parents: [900: 700, 901: 701]))
        #expect(parent(900) == 700 && parent(901) == 701 && parent(700) == nil && parent(899) == nil)
        #expect(threads.parent(of: 900, in: GuildID(D.guild + 1)) == nil, "threads belong to their guild")
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 902, parent: 702)) != nil)
        #expect(parent(902) == 702)
        // Archived: forgotten (a message to it unarchives it first, with a THREAD_UPDATE).
        #expect(threads.learn(from: Self.thread("THREAD_UPDATE", id: 902, parent: 702, archived: true)) == ThreadMapChange(parents: [902: 0]))
        #expect(parent(902) == nil)
        #expect(threads.learn(from: Self.thread("THREAD_UPDATE", id: 902, parent: 702)) == ThreadMapChange(parents: [902: 702]))
        #expect(parent(902) == 702)
        #expect(threads.learn(from: D.dispatch("THREAD_DELETE", #"{"id":"900","guild_id":"\#(D.guild)","parent_id":"700","type":11}"#))
            == ThreadMapChange(parents: [900: ThreadMapChange.forgotten]))
        #expect(parent(900) == nil)
        // A sync names the channels it covers: their threads are replaced, the others kept.
        #expect(threads.learn(from: D.dispatch("THREAD_LIST_SYNC", """
            {"guild_id":"\(D.guild)","channel_ids":["701","703"],"threads":[{"id":"903","parent_id":"703","type":11}],"members":[]}
            """)) == ThreadMapChange(parents: [901: ThreadMapChange.forgotten, 903: 703]))
        #expect(parent(901) == nil && parent(902) == 702 && parent(903) == 703)
        #expect(threads.threadCount == 2)
        // An outage keeps them; leaving the guild does not.
        #expect(threads.learn(from: D.dispatch("GUILD_DELETE", #"{"id":"\#(D.guild)","unavailable":true}"#)) == ThreadMapChange())
        #expect(threads.threadCount == 2)
        #expect(threads.learn(from: D.dispatch("GUILD_DELETE", #"{"id":"\#(D.guild)"}"#)) == ThreadMapChange(replacesAll: true))
        #expect(threads.threadCount == 0 && parent(902) == nil)
    }

    /// An unavailable guild's GUILD_CREATE (an outage), or one without its threads, keeps what is
    /// known; of two `threads` keys the last counts.
    @Test func aGuildCreateReplacesTheMapOnlyWithTheThreadsItLists() {
        let threads = ThreadParents()
        func parent(_ id: UInt64) -> UInt64? { threads.parent(of: id, in: Self.guild) }
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 920, parent: 720)) != nil)
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","unavailable":true}"#)) == ThreadMapChange())
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","name":"g"}"#)) == ThreadMapChange())
        #expect(parent(920) == 720)
        let twice = #"{"id":"\#(D.guild)","threads":[{"id":"921","parent_id":"721"}],"threads":[]}"#
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", twice)) == ThreadMapChange(replacesAll: true))
        #expect(parent(921) == nil && parent(920) == nil)
    }

    /// A key given twice counts as given last whatever its second form, as in any JSON parser:
    /// `threads` then `null` lists none, `unavailable` then `false` is available, a second
    /// `thread_metadata` without `archived` is not archived.
    @Test func aRepeatedKeyCountsAsGivenLastInEveryForm() {
        let threads = ThreadParents()
        func parent(_ id: UInt64) -> UInt64? { threads.parent(of: id, in: Self.guild) }
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 930, parent: 730)) != nil)
        let nullAfterAList = #"{"id":"\#(D.guild)","threads":[{"id":"931","parent_id":"731"}],"threads":null}"#
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", nullAfterAList)) == ThreadMapChange())
        #expect(parent(930) == 730 && parent(931) == nil)
        let archivedThenNot = #"{"id":"932","guild_id":"\#(D.guild)","parent_id":"732","thread_metadata":{"archived":true},"thread_metadata":{"locked":false}}"#
        #expect(threads.learn(from: D.dispatch("THREAD_UPDATE", archivedThenNot)) == ThreadMapChange(parents: [932: 732]))
        let archivedNull = #"{"id":"930","guild_id":"\#(D.guild)","parent_id":"730","thread_metadata":{"archived":true,"archived":null}}"#
        #expect(threads.learn(from: D.dispatch("THREAD_UPDATE", archivedNull)) == ThreadMapChange())
        #expect(parent(930) == 730 && parent(932) == 732)
        let unavailableThenNot = #"{"id":"\#(D.guild)","unavailable":true,"unavailable":false}"#
        #expect(threads.learn(from: D.dispatch("GUILD_DELETE", unavailableThenNot)) == ThreadMapChange(replacesAll: true))
        #expect(parent(930) == nil && parent(932) == nil, "the bot left the guild")
    }

    @Test func payloadsNoGatewaySendsChangeNothing() {
        let threads = ThreadParents(limit: 2)
        func parent(_ id: UInt64) -> UInt64? { threads.parent(of: id, in: Self.guild) }
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 910, parent: 710)) != nil)
        for data in [#"{"id":"911","parent_id":"#, #"{"id":911,"parent_id":{"x":1}}"#, #"[]"#, #""x""#] {
            // Built by hand: the envelope's own pass would refuse the cut-off one.
            let prefix = Array(#"{"op":0,"t":"THREAD_CREATE","d":"#.utf8)
            let dispatch = ShardDispatch(
                name: "THREAD_CREATE", sequence: 2, guildID: Self.guild, payload: prefix + Array(data.utf8) + [UInt8(ascii: "}")],
                dataRange: prefix.count..<(prefix.count + data.utf8.count))
            _ = threads.learn(from: dispatch)
            #expect(parent(911) == nil)
        }
        #expect(threads.learn(from: D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","threads":[{"id":"911","parent_id":"711"},7]}"#)) == nil)
        #expect(parent(911) == nil && parent(910) == 710, "a broken GUILD_CREATE neither adds nor replaces")
        // A thread that names itself, or no parent, is not a thread of a channel.
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 912, parent: 912)) != nil)
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 913, parent: nil)) == ThreadMapChange(), "nothing to keep")
        #expect(parent(912) == nil && parent(913) == nil)
        // Past the limit a new thread is not remembered; a known one is still updated.
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 914, parent: 714)) != nil)
        #expect(threads.learn(from: Self.thread("THREAD_CREATE", id: 915, parent: 715)) == ThreadMapChange(), "not remembered, not kept")
        #expect(parent(915) == nil && threads.overflowCount == 1)
        #expect(threads.learn(from: Self.thread("THREAD_UPDATE", id: 910, parent: 716)) != nil)
        #expect(parent(910) == 716 && threads.threadCount == 2)
    }

    /// What the map learns goes to the stats buffer with the shard's position (what the flusher
    /// keeps in Redis); a starting process restores it.
    @Test func changesAreRecordedWithTheShardsPositionAndRestored() async {
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: FixedGuildSettings(GuildSettings(GuildConfig())))
        let lane = router.stats.lane(for: 0)
        func routed(_ dispatch: ShardDispatch, at sequence: Int) async {
            let payload = String(decoding: dispatch.payload, as: UTF8.self).replacingOccurrences(of: #""s":1,"#, with: #""s":\#(sequence),"#)
            await router.route(ShardDispatch(payload: Array(payload.utf8))!, lane: lane)
        }
        await routed(Self.thread("THREAD_CREATE", id: 940, parent: 740), at: 1)
        await routed(Self.thread("THREAD_CREATE", id: 941, parent: 741), at: 2)
        await routed(Self.thread("THREAD_UPDATE", id: 940, parent: 740, archived: true), at: 3)
        await routed(D.dispatch("TYPING_START", #"{"guild_id":"\#(D.guild)","channel_id":"741","user_id":"5"}"#), at: 4)
        var taken = router.stats.takeClaiming()
        #expect(taken.threads == [D.guild: ThreadMapChange(parents: [940: 0, 941: 741])], "merged, the latest of each thread")
        #expect(taken.positions[0]?.sequence == 4)
        // Nothing changed: nothing to keep.
        await routed(Self.thread("THREAD_CREATE", id: 941, parent: 741), at: 5)
        taken = router.stats.takeClaiming()
        #expect(taken.threads.isEmpty && taken.positions[0]?.sequence == 5)
        // A whole-guild list after a single change replaces it.
        await routed(Self.thread("THREAD_CREATE", id: 942, parent: 742), at: 6)
        await routed(D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","threads":[{"id":"943","parent_id":"743"}]}"#), at: 7)
        await routed(Self.thread("THREAD_DELETE", id: 943, parent: 743), at: 8)
        taken = router.stats.takeClaiming()
        #expect(taken.threads == [D.guild: ThreadMapChange(replacesAll: true)])

        let restarted = ThreadParents(limit: 2)
        restarted.restore([950: 750, 951: 751, 952: 752], of: Self.guild)
        #expect(restarted.threadCount == 2 && restarted.overflowCount == 1, "within the limit")
        restarted.restore([953: 753], of: Self.guild)
        #expect(restarted.threads(of: Self.guild) == [953: 753] && restarted.threadCount == 1)

        // Redis's maps could not be read at the start: a whole-guild list replaces what Redis may
        // hold, whether memory changed or not.
        let unsure = ThreadParents()
        #expect(unsure.learn(from: D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","threads":[]}"#)) == ThreadMapChange())
        unsure.storedMapsAreUnknown()
        #expect(unsure.learn(from: D.dispatch("GUILD_CREATE", #"{"id":"\#(D.guild)","threads":[]}"#)) == ThreadMapChange(replacesAll: true))
    }

    @Test func aThreadFollowsItsChannelsNoXPAndMultiplierUnlessItHasItsOwn() async {
        var config = GuildConfig()
        config.xp.noXPChannels = [ChannelID(720)]
        config.xp.channelMultipliers = [ChannelID(721): 2, ChannelID(931): 3]
        let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: FixedGuildSettings(GuildSettings(config)))
        await router.route(Self.thread("THREAD_CREATE", id: 930, parent: 720))
        await router.route(Self.thread("THREAD_CREATE", id: 931, parent: 721))
        await router.route(Self.thread("THREAD_CREATE", id: 932, parent: 721))
        let ids = (0..<3).map { D.messageID(atSecond: 0, increment: UInt64($0)) }
        await router.route(D.message(id: ids[0], author: 50, channel: 930))
        await router.route(D.message(id: ids[1], author: 51, channel: 931))
        await router.route(D.message(id: ids[2], author: 52, channel: 932))
        let batch = router.stats.take()[D.guild] ?? GuildStatsBatch()
        #expect(batch.messages == [50: 1, 51: 1, 52: 1], "every member's message counts")
        let xp = Dictionary(uniqueKeysWithValues: batch.grants.map { ($0.user, $0.xp) })
        #expect(xp[50] == nil, "a thread in a no-XP channel earns nothing")
        #expect(xp[51] == 3 * XPRules.roll(messageID: ids[1], minimum: 15, maximum: 25), "the thread's own multiplier wins")
        #expect(xp[52] == 2 * XPRules.roll(messageID: ids[2], minimum: 15, maximum: 25), "else its channel's")
    }
}
