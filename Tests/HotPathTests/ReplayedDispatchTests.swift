import DiscordGateway
import DiscordModels
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiTestSupport
import Testing

/// A process killed with `kill -9` after a flush reached Redis but before its shards' sessions
/// were saved: the next process resumes from the older saved `s`, and Discord replays dispatches
/// whose messages Redis counted already. They must not be counted again (nor earn XP again).
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct ReplayedDispatchTests {
    let guilds = (1...3).map { GuildID(UInt64.random(in: 1...(1 << 40)) << 22 | $0) }
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
    let session = SessionTag.of("c0ffee-session")
    let members: [UInt64] = [11, 12, 13]

    /// Dispatch `s` of the session: a message by one of the members, 10 s after the one before, in
    /// one of the three guilds in turn; each member posts twice in a row (10 s apart), then not for 50 s.
    /// With `moment`, the message is that one's (its time, guild and author) sent as dispatch
    /// `sequence` of session `sessionTag`; with `guild`, in that guild instead.
    func dispatch(_ sequence: Int, mayBeApplied: Bool, moment: Int? = nil, sessionTag: UInt64? = nil, guild: GuildID? = nil) -> ShardDispatch {
        let moment = moment ?? sequence
        let guild = guild ?? guilds[moment % 3]
        let author = author(of: moment)
        let id = MessageID(unixMilliseconds: 1_735_689_600_000 + UInt64(moment) * 10_000, increment: 0).rawValue
        let payload = """
            {"op":0,"s":\(sequence),"t":"MESSAGE_CREATE","d":{"type":0,"content":"","member":{"roles":[]},"id":"\(id)",\
            "channel_id":"700","author":{"id":"\(author)","username":"u"},"guild_id":"\(guild.rawValue)"}}
            """
        var dispatch = ShardDispatch(payload: Array(payload.utf8))!
        dispatch.sessionTag = sessionTag ?? session
        dispatch.mayBeApplied = mayBeApplied
        return dispatch
    }

    func author(of sequence: Int) -> UInt64 { members[(sequence / 2) % 3] }

    /// A process: its own buffer, router and flusher. Routes each of `flushes` and flushes it, then
    /// routes `lost` and dies before flushing those. With `savingSessions`, each flush also saves
    /// the shard's session (as `kamii run` does) under `sessionKey`.
    func process(
        _ redis: RedisClient, flushes: [[ShardDispatch]], lost: [ShardDispatch] = [], guildsPerCall: Int = 100,
        maxArguments: Int = 100_000, savingSessions: Bool = false
    ) async {
        let buffer = StatsBuffer(capacity: 1_000)
        let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(.defaults))
        let sessionKey = keys.prefix + ":session"
        let saveSession: @Sendable ([Int: ShardPosition]) async -> [DurableWrite] = { positions in
            [(sessionKey, "s=\(positions[0]!.sequence)", 60_000)]
        }
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis,
            configuration: .init(interval: .seconds(60), keys: keys, guildsPerCall: guildsPerCall, maxArgumentsPerRoundTrip: maxArguments),
            durableWrites: savingSessions ? saveSession : nil)
        let shard: Int? = savingSessions ? 0 : nil
        for flushed in flushes {
            for dispatch in flushed { await router.route(dispatch, shard: shard) }
            #expect(await flusher.flush())
        }
        for dispatch in lost { await router.route(dispatch, shard: shard) }
    }

    /// What a guild's members hash keeps of where its counted messages end.
    func position(of guild: GuildID, _ redis: RedisClient) async throws -> String? {
        try await redis.send("HGET", keys.members(in: guild), StatsKeys.positionField).string
    }

    @Test func onlyAFlushThatDoesNotSaveTheSessionsKeepsTheGuildsPositions() async throws {
        let redis = try RedisTestServer.client()
        // Sessions saved in the flush's own transaction: never behind a guild, so nothing is kept.
        await process(redis, flushes: [(1...4).map { dispatch($0, mayBeApplied: false) }], savingSessions: true)
        #expect(try await redis.send("GET", keys.prefix + ":session").string == "s=4")
        for guild in guilds { #expect(try await position(of: guild, redis) == nil) }
        #expect(try await StatsReader(redis: redis, keys: keys).members(of: guilds[1]).values.map(\.messages).reduce(0, +) == 2, "s 1 and 4")
        // In parts (one call per round trip, the first two guilds in it): the guilds of the parts
        // before the last keep their own; the last part saves the sessions with it.
        let sorted = guilds.sorted { $0.rawValue < $1.rawValue }
        await process(redis, flushes: [(5...10).map { dispatch($0, mayBeApplied: false) }], guildsPerCall: 2, maxArguments: 1, savingSessions: true)
        var kept: [String?] = []
        for guild in sorted { kept.append(try await position(of: guild, redis)) }
        let last = { (guild: GuildID) in (5...10).last { guilds[$0 % 3] == guild }! }
        #expect(kept == [last(sorted[0]), last(sorted[1])].map { "\(session):\($0)" } + [nil])
        #expect(try await redis.send("GET", keys.prefix + ":session").string == "s=10")
        // Cluster (a call per guild, no transaction): every guild keeps its own.
        await process(redis, flushes: [(11...13).map { dispatch($0, mayBeApplied: false) }], guildsPerCall: 1, savingSessions: true)
        kept = []
        for guild in guilds { kept.append(try await position(of: guild, redis)) }
        #expect(kept == guilds.map { guild in "\(session):\((11...13).last { guilds[$0 % 3] == guild }!)" })
        await redis.close()
    }

    @Test(arguments: [(100, 100_000), (2, 1), (1, 100_000)])
    func messagesReplayedAfterAKillAreCountedOnce(guildsPerCall: Int, maxArguments: Int) async throws {
        let redis = try RedisTestServer.client()
        // The first process flushed 1…15 and had 16…20 in hand when it was killed; its session was
        // last saved at 10. The next one resumes from 10: Discord replays 11…20, then RESUMED, then
        // 21…30. Its first flush comes in the middle of the replay (11…13: each guild's part ends
        // below what the first process counted, which must not move Redis's mark back).
        await process(
            redis, flushes: [(1...15).map { dispatch($0, mayBeApplied: false) }], lost: (16...20).map { dispatch($0, mayBeApplied: false) },
            guildsPerCall: guildsPerCall, maxArguments: maxArguments)
        await process(
            redis,
            flushes: [
                (11...13).map { dispatch($0, mayBeApplied: true) },
                (14...20).map { dispatch($0, mayBeApplied: true) } + (21...30).map { dispatch($0, mayBeApplied: false) },
            ],
            guildsPerCall: guildsPerCall, maxArguments: maxArguments)
        try await expectEachMessageOnce(1...30, redis)
        await redis.close()
    }

    /// The restored session is replaced (op 9, a new READY) before the flush that holds its
    /// replays: they are still judged against what Redis keeps of the old session, and the guilds'
    /// positions move to the new one — where the next replay, of the new session, is judged. In a
    /// single call, in parts, one guild per call (Cluster), and in a flush that saves the sessions
    /// (its call reads positions but writes none). A fourth guild gets only the new session's
    /// messages: a guild without replays in a call that reads positions.
    @Test(arguments: [(100, 100_000, false), (2, 1, false), (1, 100_000, false), (100, 100_000, true)])
    func replaysOfASessionReplacedBeforeTheFlushAreCountedOnce(guildsPerCall: Int, maxArguments: Int, savingSessions: Bool) async throws {
        let redis = try RedisTestServer.client()
        let replacement = SessionTag.of("replacement-session")
        let quiet = GuildID(guilds[2].rawValue + (1 << 22))
        let (calls, arguments) = (guildsPerCall, maxArguments)
        // The first process keeps each guild's position (its flushes do not save the sessions).
        await process(
            redis, flushes: [(1...15).map { dispatch($0, mayBeApplied: false) }], lost: (16...20).map { dispatch($0, mayBeApplied: false) },
            guildsPerCall: calls, maxArguments: arguments)
        // Replayed 11…20, then the session is lost and a new one starts from `s` 1: messages 21…27,
        // two in the quiet guild (8, 9), then 28…30 (10…12) before the next kill.
        let renewed = (1...7).map { dispatch($0, mayBeApplied: false, moment: 20 + $0, sessionTag: replacement) }
            + (8...9).map { dispatch($0, mayBeApplied: false, moment: 20 + $0, sessionTag: replacement, guild: quiet) }
        let lost = (10...12).map { dispatch($0, mayBeApplied: false, moment: 18 + $0, sessionTag: replacement) }
        await process(
            redis, flushes: [(11...20).map { dispatch($0, mayBeApplied: true) } + renewed], lost: lost, guildsPerCall: calls,
            maxArguments: arguments, savingSessions: savingSessions)
        try await expectEachMessageOnce(1...27, redis)
        if !savingSessions {
            for (index, guild) in guilds.enumerated() {
                // Its last `s` of the new session, though the old one had counted further.
                let last = (1...7).last { (20 + $0) % 3 == index }!
                #expect(try await position(of: guild, redis) == "\(replacement):\(last)")
            }
            #expect(try await position(of: quiet, redis) == "\(replacement):9")
        }
        // Killed again, as a third process resumes the new session: from its start where nothing
        // saved it (the positions judge), after 9 where the flush saved it.
        let replayed = savingSessions ? Array(lost) : renewed + lost
        await process(redis, flushes: [replayed.map { var again = $0; again.mayBeApplied = true; return again }], guildsPerCall: calls, maxArguments: arguments)
        try await expectEachMessageOnce(1...30, redis)
        let quietRecords = try await StatsReader(redis: redis, keys: keys).members(of: quiet)
        #expect(quietRecords.values.map(\.messages).reduce(0, +) == 2, "the quiet guild's two messages, once")
        await redis.close()
    }

    /// Each member's messages among `moments`, each counted once, and the XP they earned under the
    /// cooldown.
    func expectEachMessageOnce(_ moments: ClosedRange<Int>, _ redis: RedisClient) async throws {
        let reader = StatsReader(redis: redis, keys: keys)
        for (index, guild) in guilds.enumerated() {
            let records = try await reader.members(of: guild)
            for member in members {
                let sent = moments.filter { $0 % 3 == index && author(of: $0) == member }
                var lastXP: UInt64?
                var xp = 0, earning = 0
                for moment in sent {
                    let time = 1_735_689_600_000 + UInt64(moment) * 10_000
                    guard lastXP.map({ time >= $0 + 60_000 }) ?? true else { continue }
                    lastXP = time
                    earning += 1
                    xp += XPRules.roll(messageID: MessageID(unixMilliseconds: time, increment: 0).rawValue, minimum: 15, maximum: 25)
                }
                let record = records[UserID(member)] ?? MemberRecord()
                #expect(record.messages == sent.count, "guild \(index), member \(member): messages")
                #expect(record.xpMessages == earning && record.xp == xp, "guild \(index), member \(member): \(record)")
            }
        }
    }

    /// The first process's last flush reached Redis but its commit was refused (the journal's key
    /// was broken), so its session stayed saved at 10, and it died before saving a later one (here:
    /// Redis refuses the members' marks too, which keeps the flusher from saving it, as a kill in
    /// between would). The next process is replayed 11…15: counted once, by the positions the
    /// refused commit kept.
    @Test func messagesOfARefusedCommitReplayedAfterAKillAreCountedOnce() async throws {
        let redis = try RedisTestServer.client()
        let sessionKey = keys.prefix + ":session"
        let buffer = StatsBuffer(capacity: 1_000)
        let router = GuildRouter(stats: buffer, settings: FixedGuildSettings(.defaults))
        let flusher = StatsFlusher(
            buffer: buffer, redis: redis, configuration: .init(interval: .seconds(60), keys: keys),
            durableWrites: { positions in [(sessionKey, "s=\(positions[0]!.sequence)", 60_000)] })
        for sequence in 1...10 { await router.route(dispatch(sequence, mayBeApplied: false), shard: 0) }
        #expect(await flusher.flush())
        try await redis.send("SET", keys.changeJournal, "not a hash")
        try await redis.send("SET", keys.dirtyGuilds, "not a set")
        for sequence in 11...15 { await router.route(dispatch(sequence, mayBeApplied: false), shard: 0) }
        #expect(await !flusher.flush(), "applied, but its members are not journaled: no session saved")
        #expect(try await redis.send("GET", sessionKey).string == "s=10")
        try await redis.send("DEL", keys.changeJournal, keys.dirtyGuilds)

        await process(
            redis, flushes: [(11...15).map { dispatch($0, mayBeApplied: true) } + (16...20).map { dispatch($0, mayBeApplied: false) }],
            savingSessions: true)
        let reader = StatsReader(redis: redis, keys: keys)
        for (index, guild) in guilds.enumerated() {
            let records = try await reader.members(of: guild)
            for member in members {
                let sent = (1...20).filter { $0 % 3 == index && author(of: $0) == member }.count
                #expect((records[UserID(member)]?.messages ?? 0) == sent, "guild \(index), member \(member)")
            }
        }
        await redis.close()
    }

    @Test func aReplayOfAnotherSessionIsCounted() async throws {
        let redis = try RedisTestServer.client()
        await process(redis, flushes: [(1...6).map { dispatch($0, mayBeApplied: false) }])
        // Replayed dispatches with the same numbers in a session Redis holds nothing of: not the ones
        // it counted, so they count.
        let other = (1...6).map { sequence in
            var replayed = dispatch(sequence, mayBeApplied: true)
            replayed.sessionTag = SessionTag.of("another-session")
            return replayed
        }
        await process(redis, flushes: [other])
        let records = try await StatsReader(redis: redis, keys: keys).members(of: guilds[0])
        #expect(records.values.map(\.messages).reduce(0, +) == 4, "s 3 and 6 in each session")
        await redis.close()
    }
}
