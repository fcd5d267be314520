import DiscordModels
import KamiiRedis
import KamiiStore

/// Loading a guild Redis does not have (never saw, or lost) from the checkpoint in SQL before any
/// change is added to it.
extension StatsFlusher {
    /// Before a flush, with a SQL store: the guilds this process has not flushed yet are looked up
    /// in Redis (one HEXISTS each, once per guild) and loaded from SQL if Redis lacks them. Left to
    /// the script, such a guild is refused in the middle of a flush whose other guilds are applied,
    /// and the shards' positions are written only once it is in: a process killed in between
    /// replays the applied guilds' messages, and counts them twice. (A guild Redis loses later is
    /// still refused and loaded that way.) Returns the guilds that could not be loaded (the SQL store
    /// unreachable): nothing of their batches has run, so they wait like refused ones. Throws when
    /// Redis does not answer.
    func loadUnseen(_ guilds: some Collection<UInt64>) async throws -> [UInt64] {
        guard hydrator != nil else { return [] }
        let unseen = guilds.filter { !seenLoaded.contains($0) }
        guard !unseen.isEmpty else { return [] }
        if seenLoaded.count > 1_000_000 { seenLoaded.removeAll() }
        var pipeline = RedisPipeline()
        for guild in unseen { pipeline.append("HEXISTS", configuration.keys.members(in: GuildID(guild)), StatsKeys.batchField) }
        let replies = try await redis.execute(pipeline)
        var missing: [GuildID] = []
        for (guild, reply) in zip(unseen, replies) {
            switch reply {
            case .integer(0): missing.append(GuildID(guild))
            // Keys Kamii did not write (WRONGTYPE) are the script's to judge, and to report.
            case .integer(1): seenLoaded.insert(guild)
            case .error(let message) where RedisError.server(message).isWrongType: seenLoaded.insert(guild)
            // Anything else (LOADING after a restart, …): asked again before the next flush, which
            // meets the same answer and is retried.
            default: break
            }
        }
        let failed = Set(await hydrate(missing))
        for guild in missing where !failed.contains(guild) { seenLoaded.insert(guild.rawValue) }
        return failed.map(\.rawValue)
    }

    /// Loads guilds Redis does not have from the checkpoint, then marks them loaded, up to
    /// ``Configuration/hydrationConcurrency`` at once. Returns the guilds that could not be loaded
    /// now: after a failure no more loads are begun (those under way finish), and no load is
    /// for a quiet period (``Configuration/hydrationBackoff``): the store is likely away, and one
    /// that hangs would hold every flush for a timeout per guild. The guild that failed last is
    /// tried last, and a load that works ends the backoff. A guild another process is loading
    /// (``GuildLoadScripts``) waits too, without a backoff: it is loaded when its flush comes again.
    func hydrate(_ guilds: [GuildID]) async -> [GuildID] {
        guard let hydrator, !guilds.isEmpty else { return [] }
        if let quietUntil = hydrationQuietUntil, ContinuousClock.now < quietUntil { return guilds }
        var guilds = guilds
        if let last = hydrationFailedLast, let at = guilds.firstIndex(of: last) { guilds.append(guilds.remove(at: at)) }
        let order = guilds
        let width = min(order.count, max(1, min(configuration.hydrationConcurrency, hydrator.loadsAtOnce)))
        // The loads' ends in the order they came, and how many loads were begun.
        let (ends, begun) = await withTaskGroup(
            of: (GuildID, Result<LoadOutcome, any Error>).self, returning: ([(GuildID, Result<LoadOutcome, any Error>)], Int).self
        ) { group in
            var ends: [(GuildID, Result<LoadOutcome, any Error>)] = []
            var next = 0
            while next < order.count {
                if next >= width {
                    // One ends before the next begins; a failure ends the beginning of more.
                    guard let end = await group.next() else { break }
                    ends.append(end)
                    if case .failure = end.1 { break }
                }
                let guild = order[next]
                next += 1
                group.addTask {
                    do { return (guild, .success(try await self.hydrate(guild, from: hydrator))) } catch { return (guild, .failure(error)) }
                }
            }
            while let end = await group.next() { ends.append(end) }
            return (ends, next)
        }
        var (waiting, failed) = ([GuildID](), [GuildID]())
        var firstError: (any Error)?
        for (guild, result) in ends {
            switch result {
            case .success(.loaded): hydrationBackoff = .zero
            case .success(.busy):
                hydrationBackoff = .zero
                waiting.append(guild)
                logger.info("another process is loading the guild from the checkpoint; its changes wait", metadata: ["guild": "\(guild)"])
            case .failure(let error):
                failed.append(guild)
                if firstError == nil { firstError = error }
            }
        }
        guard let firstError else {
            hydrationQuietUntil = nil
            hydrationFailedLast = nil
            return waiting
        }
        let left = order[begun...]
        hydrationFailedLast = failed.last
        hydrationBackoff = min(
            max(configuration.hydrationBackoff, hydrationBackoff * 2), max(configuration.hydrationBackoff, configuration.hydrationBackoffLimit))
        hydrationQuietUntil = .now + hydrationBackoff
        logger.warning("guild not loaded from the checkpoint; its changes wait, and loads pause", metadata: [
            "guild": "\(failed[0])", "waiting": "\(failed.count + left.count)", "pause_seconds": "\(hydrationBackoff.components.seconds)",
            "error": "\(firstError)",
        ])
        return waiting + failed + left
    }

    enum LoadOutcome { case loaded, busy }

    /// Writes the guild's rows from SQL into Redis, then checks them against SQL once more before
    /// marking the guild loaded: a privacy deletion (``PrivacyDeletion``) that ran between the read
    /// and the write would otherwise see its rows come back. Until the marker is set the flush
    /// script refuses the guild, so nothing but a load writes into it, and an earlier attempt's
    /// leftovers are cleared first. All of it under the guild's load lock: `busy` when another
    /// loader holds it, or took it over (this one's lock ran out) — nothing more is written then.
    private func hydrate(_ guild: GuildID, from hydrator: any GuildHydrator) async throws -> LoadOutcome {
        let keys = configuration.keys
        let (members, lock) = (keys.members(in: guild), keys.loadLock(in: guild))
        let token = "\(UInt64.random(in: 1...UInt64.max))"
        let lifetime = String(GuildLoadScripts.lockLifetimeMilliseconds)
        // A step that finds the guild loaded by someone else (another loader finished, a privacy
        // purge marked it) ends this load as done: the guild's batch is sent again at once.
        func stopped(at reply: RedisValue) async throws -> LoadOutcome? {
            switch try reply.orThrow().int {
            case GuildLoadScripts.done: return nil
            case GuildLoadScripts.alreadyLoaded:
                _ = try? await redis.evaluate(GuildLoadScripts.release, keys: [lock], arguments: [token])
                return .loaded
            default: return .busy
            }
        }
        do {
            switch try await redis.evaluate(GuildLoadScripts.acquire, keys: [members, lock], arguments: [token, lifetime]).orThrow().string {
            case "loaded": return .loaded
            case "locked": break
            default: return .busy
            }
            let guildKeys = [members] + Leaderboard.allCases.map { keys.leaderboard($0, in: guild) } + [lock]
            let cleared = try await redis.evaluate(GuildLoadScripts.clearUnloaded, keys: guildKeys, arguments: [token, lifetime])
            if let outcome = try await stopped(at: cleared) { return outcome }
            // A page of rows at a time (a pipelined round trip of writes each): a guild of millions
            // holds one page in memory, not itself (and its commands) whole.
            var written: [UserID] = []
            let stoppedWriting = try await eachPage(of: guild, from: hydrator) { rows in
                var pipeline = RedisPipeline()
                for start in stride(from: 0, to: rows.count, by: 1_000) {
                    appendPart(rows[start..<min(start + 1_000, rows.count)], keys: guildKeys, token: token, lifetime: lifetime, to: &pipeline)
                }
                for reply in try await redis.execute(pipeline) {
                    if let outcome = try await stopped(at: reply) { return outcome }
                }
                written += rows.map(\.user)
                return nil
            }
            if let outcome = stoppedWriting { return outcome }
            let check = try await deletedMeanwhile(written, in: guild, from: hydrator) {
                try await stopped(at: redis.evaluate(GuildLoadScripts.renew, keys: [members, lock], arguments: [token, lifetime]))
            }
            if let outcome = check.stopped { return outcome }
            let deleted = check.deleted
            let finished = try await redis.evaluate(GuildLoadScripts.finish, keys: guildKeys, arguments: [token] + deleted)
            if let outcome = try await stopped(at: finished) { return outcome }
            if !deleted.isEmpty {
                logger.notice("members deleted while their guild was loading were taken out again", metadata: ["guild": "\(guild)", "members": "\(deleted.count)"])
            }
            totals.hydrations += 1
            logger.info("guild loaded from the checkpoint", metadata: ["guild": "\(guild)", "members": "\(written.count - deleted.count)"])
            return .loaded
        } catch {
            // The next try, here or in another process, need not wait for the lock to run out (a
            // lock taken by an acquire whose reply was lost included).
            _ = try? await redis.evaluate(GuildLoadScripts.release, keys: [lock], arguments: [token])
            throw error
        }
    }

    /// One ``GuildLoadScripts/writePart`` call: the rows' records, then their XP and karma scores.
    private func appendPart(
        _ part: ArraySlice<ServerUserStats>, keys: [String], token: String, lifetime: String, to pipeline: inout RedisPipeline
    ) {
        let xp = part.filter { $0.xp > 0 }
        let karma = part.filter { $0.karma != 0 }
        pipeline.beginCommand(arguments: 3 + keys.count + 2 + 3 + 2 * (part.count + xp.count + karma.count))
        pipeline.appendArgument("EVAL")
        pipeline.appendArgument(GuildLoadScripts.writePart.source)
        pipeline.appendArgument(keys.count)
        for key in keys { pipeline.appendArgument(key) }
        pipeline.appendArgument(token)
        pipeline.appendArgument(lifetime)
        pipeline.appendArgument(part.count)
        for member in part {
            pipeline.appendArgument(member.user.rawValue)
            pipeline.appendArgument(bytes: MemberRecord(loadedFrom: member).stored)
        }
        // In the order of `Leaderboard.allCases`, as the KEYS are.
        for scores in [xp.map { (Int($0.xp), $0.user.rawValue) }, karma.map { (Int($0.karma), $0.user.rawValue) }] {
            pipeline.appendArgument(scores.count)
            for (score, user) in scores {
                pipeline.appendArgument(score)
                pipeline.appendArgument(user)
            }
        }
    }

    /// The members just written whom SQL no longer holds (deleted meanwhile): ``GuildLoadScripts/finish``
    /// takes them out again, under the load's lock. `written` is in ascending user order, as SQL
    /// gives its pages: one walk through both, a page of SQL at a time, the lock renewed after each
    /// (`renew` says when the load must stop instead).
    private func deletedMeanwhile(
        _ written: [UserID], in guild: GuildID, from hydrator: any GuildHydrator, renew: () async throws -> LoadOutcome?
    ) async throws -> (deleted: [String], stopped: LoadOutcome?) {
        guard !written.isEmpty else { return ([], nil) }
        var deleted: [String] = []
        var index = 0
        let stopped = try await eachPage(of: guild, from: hydrator, betweenPages: renew) { page in
            for row in page {
                while index < written.count, written[index].rawValue < row.user.rawValue {
                    deleted.append(String(written[index].rawValue))
                    index += 1
                }
                if index < written.count, written[index] == row.user { index += 1 }
            }
            return nil
        }
        if let stopped { return ([], stopped) }
        deleted += written[index...].map { String($0.rawValue) }
        return (deleted, nil)
    }

    /// Hands `body` the guild's rows in SQL a page at a time (``Configuration/loadPageRows``), in
    /// user order, until a page comes short (the last) or `body` says the load must stop;
    /// `betweenPages` runs before each page after the first (and may stop the load too).
    private func eachPage(
        of guild: GuildID, from hydrator: any GuildHydrator, betweenPages: () async throws -> LoadOutcome? = { nil },
        _ body: ([ServerUserStats]) async throws -> LoadOutcome?
    ) async throws -> LoadOutcome? {
        var after: UserID?
        while true {
            let page = try await hydrator.members(of: guild, after: after, limit: configuration.loadPageRows)
            if let outcome = try await body(page) { return outcome }
            guard page.count == configuration.loadPageRows, let last = page.last else { return nil }
            if let outcome = try await betweenPages() { return outcome }
            after = last.user
        }
    }
}
