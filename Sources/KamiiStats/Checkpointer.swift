import DiscordModels
public import KamiiRedis
public import KamiiStore
public import Logging
import Foundation
import KamiiCore

/// Copies the members whose counters changed from Redis into SQL `server_users`, every interval
/// and at shutdown: Redis holds the live truth, SQL its checkpoint (what the panel reads, what a
/// guild Redis lost is rehydrated from).
///
/// The members to copy are named by the flushes' ``ChangeJournal`` (``StatsKeys/changeJournal``)
/// and, for karma receivers the flush script found in a guild's karma ledger, by the guild's dirty
/// set. Nothing named is forgotten, whatever fails or crashes: a journal entry is deleted only once
/// SQL has its members (the members of a guild that failed go back as a new entry, in the same
/// transaction), and a dirty set is first moved (atomically) into a set being checkpointed, which is
/// deleted only once SQL has its rows; a checkpoint that fails or never finishes leaves them for the
/// next. One checkpointer at a time on a Redis (``CheckpointLock``); two overlap only when one's
/// lock ran out (it made no progress for a minute, or could not reach Redis), and then may copy a
/// member twice — each row carries the Redis time of its read, and an older read never replaces
/// a newer one.
public actor Checkpointer {
    let store: KamiiStore
    let redis: RedisClient
    let keys: StatsKeys
    let logger: Logger
    public private(set) var totals = Report()
    /// When the last checkpoint that ended with nothing failed began (this process's, or one whose
    /// marks were left to another process's checkpointer at it); nil before the first.
    public private(set) var lastCleanCheckpointBegan: ContinuousClock.Instant?
    private let startedAt = ContinuousClock.now
    /// Guilds already logged as broken (one error line each, not one per checkpoint).
    var brokenGuilds: Set<UInt64> = []
    /// Tests only: runs once a guild's marked members are copied, before their marks are released
    /// — where another process's checkpointer may merge marks of its own into the same set.
    var beforeReleasingMarks: (@Sendable (GuildID) async -> Void)?

    /// Tests only: a lock that runs out (and is renewed) sooner.
    var lockTiming = CheckpointLock.Timing()
    /// The running checkpoint's progress, which its lock's renewals follow: noted per guild, per
    /// journal page and per step of a guild's copy (one part of its upsert is the longest step).
    var progress = CheckpointLock.Progress()
    /// Rows per SQL upsert of a guild: a fraction of a second at the rates measured
    /// (docs/PERFORMANCE.md), far inside the lock's lifetime however large the guild.
    private(set) var rowsPerUpsert = 10_000
    /// Members gathered from the journal before their guilds are checkpointed (``checkpointJournal(into:)``).
    private(set) var journalMembersPerPart = 250_000
    /// Marks read per step of a dirty set (SSCAN's COUNT, a hint: a small set comes whole).
    private(set) var dirtyMarksPerStep = 10_000
    /// Members named in each part of the last journal walk (what tests look at).
    var journalParts: [Int] = []
    /// Rows the running checkpoint's upserts could not write (``Report/rowsNotWritten``), and
    /// members it left out (``Report/unstorableMembers``).
    private var rowsNotWritten = 0
    private var unstorableMembers = 0
    /// Members the running checkpoint found a record of it cannot read (``Report/unreadableRecords``).
    var unreadableRecords = 0

    func setLockTiming(_ timing: CheckpointLock.Timing) {
        lockTiming = timing
    }

    /// Tests only: smaller parts of the journal's backlog, smaller steps through a dirty set.
    func setPartSizes(journalMembers: Int, dirtyMarks: Int = 10_000) {
        precondition(journalMembers > 0 && dirtyMarks > 0, "a part holds at least one member")
        journalMembersPerPart = journalMembers
        dirtyMarksPerStep = dirtyMarks
    }

    /// Tests only: smaller parts.
    func setRowsPerUpsert(_ rows: Int) {
        precondition(rows > 0, "a part holds at least one row")
        rowsPerUpsert = rows
    }

    func setBeforeReleasingMarks(_ hook: @escaping @Sendable (GuildID) async -> Void) {
        beforeReleasingMarks = hook
    }

    public init(store: KamiiStore, redis: RedisClient, keys: StatsKeys = StatsKeys(), logger: Logger = Logger(label: "kamii.checkpoint")) {
        self.store = store
        self.redis = redis
        self.keys = keys
        self.logger = logger
    }

    /// One checkpoint of everything marked dirty so far — unless another process's checkpointer is
    /// at it (``CheckpointLock``), which copies every mark: then nothing is done here
    /// (``Report/leftToAnother``). With `patience` (at shutdown, so that what this process's last
    /// flush marked is copied before it stops), it first waits that long for the other to finish.
    @discardableResult
    public func checkpoint(waitingUpTo patience: Duration = .zero) async -> Report {
        let began = ContinuousClock.now
        let report = await checkpointOnce(waitingUpTo: patience)
        if report.failures == 0 { lastCleanCheckpointBegan = began }
        return report
    }

    /// How far SQL's copy may be behind Redis: the time since the last checkpoint that ended with
    /// nothing failed began (or since the checkpointer started). The checkpoint interval or so in
    /// health, it climbs while SQL or Redis is away — and it is what a Redis lost now would take
    /// its guilds back by.
    public func age(now: ContinuousClock.Instant = .now) -> Duration {
        now - (lastCleanCheckpointBegan ?? startedAt)
    }

    private func checkpointOnce(waitingUpTo patience: Duration) async -> Report {
        var report = Report()
        let lock = CheckpointLock(keys: keys, timing: lockTiming)
        let deadline = ContinuousClock.now + patience
        do {
            while try await !lock.acquire(redis) {
                guard ContinuousClock.now < deadline else {
                    report.leftToAnother = true
                    return report
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch is CancellationError {
            // Stopped while waiting for another process's checkpoint: its marks are left to that one.
            logger.notice("checkpoint: stopped while another process's checkpoint ran; the marks are left to it")
            report.leftToAnother = true
            return report
        } catch {
            logger.error("checkpoint: Redis did not answer", metadata: ["error": "\(error)"])
            report.failures += 1
            totals.failures += 1
            return report
        }
        // Not a child task: a shutdown that cancels this one must not stop the renewals of a
        // checkpoint that goes on (Redis and SQL calls run to their end).
        progress = CheckpointLock.Progress()
        let (redis, logger, progress) = (self.redis, self.logger, self.progress)
        let renewer = Task { await lock.keepRenewed(redis, progress: progress, logger: logger) }
        (rowsNotWritten, unstorableMembers, unreadableRecords) = (0, 0, 0)
        await checkpointMarked(into: &report)
        (report.rowsNotWritten, report.unstorableMembers, report.unreadableRecords) = (rowsNotWritten, unstorableMembers, unreadableRecords)
        renewer.cancel()
        await renewer.value
        do {
            try await lock.release(redis)
        } catch {
            logger.warning("checkpoint: its lock was not released; it runs out", metadata: ["error": "\(error)"])
        }
        totals.guilds += report.guilds
        totals.members += report.members
        totals.failures += report.failures
        totals.rowsNotWritten += report.rowsNotWritten
        totals.unstorableMembers += report.unstorableMembers
        totals.unreadableRecords += report.unreadableRecords
        return report
    }

    private func checkpointMarked(into report: inout Report) async {
        var guilds: [GuildID] = []
        do {
            let listed = try await take(keys.dirtyGuilds)
            guilds = listed.compactMap { UInt64($0).map(GuildID.init) }
            // A number no guild has (past 64 bits): nothing to copy, and nothing would ever remove it.
            let bogus = listed.filter { UInt64($0) == nil }
            if !bogus.isEmpty {
                var remove = RedisPipeline()
                remove.append(["SREM", keys.dirtyGuilds + ":checkpointing"] + bogus)
                _ = try? await redis.execute(remove)
            }
        } catch {
            // The journal, which names most changed members, is walked all the same: a list that
            // cannot be taken (a key Kamii did not write, Redis out of memory for its copy) must
            // not stop every checkpoint.
            logger.error("checkpoint: the guilds with dirty sets could not be taken", metadata: ["error": "\(error)"])
            report.failures += 1
        }
        for guild in guilds {
            progress.note()
            do {
                let members = try await checkpointDirtySet(of: guild)
                // Listed until its set is empty: marks another process's checkpointer merged in
                // meanwhile (several processes share one Redis) are not orphaned.
                if try await redis.send("SCARD", keys.dirtyMembers(in: guild) + ":checkpointing").int == 0 {
                    _ = try await redis.send("SREM", keys.dirtyGuilds + ":checkpointing", String(guild.rawValue))
                }
                report.members += members
                report.guilds += 1
            } catch let error as RedisError where error.isWrongType {
                // Keys Kamii did not write (the flusher reports the guild broken): dropped, not retried.
                report.failures += 1
                logBroken(guild.rawValue, error)
                _ = try? await redis.send("SREM", keys.dirtyGuilds + ":checkpointing", String(guild.rawValue))
            } catch {
                report.failures += 1
                logger.error("checkpoint of a guild failed; it stays marked", metadata: ["guild": "\(guild)", "error": "\(error)"])
            }
        }
        do {
            try await checkpointJournal(into: &report)
        } catch {
            report.failures += 1
            logger.error("checkpoint: the change journal could not be read or updated; what it names stays", metadata: ["error": "\(error)"])
        }
    }

    func logBroken(_ guild: UInt64, _ error: RedisError) {
        guard brokenGuilds.insert(guild).inserted else { return }
        logger.error("checkpoint: a guild's keys are not what Kamii writes; its members are not copied until they are fixed or purged (kamii data delete --guild)", metadata: ["guild": "\(guild)", "error": "\(error)"])
    }

    /// The members in the guild's dirty set (karma receivers the flush script found in the ledger,
    /// and what versions before the change journal marked).
    private func checkpointDirtySet(of guild: GuildID) async throws -> Int {
        let twin = try await moveMarks(keys.dirtyMembers(in: guild))
        var count = 0
        try await eachStep(of: twin) { users in
            count += try await checkpoint(guild, users: users)
            await beforeReleasingMarks?(guild)
        }
        return count
    }

    /// Copies the records of the `marked` members SQL can hold to SQL, with their trust recomputed
    /// (and written back to Redis); returns how many rows it wrote and kept.
    func checkpoint(_ guild: GuildID, users marked: [UserID]) async throws -> Int {
        // Left out, not failing the guild's every checkpoint: SQL refuses the whole upsert for one.
        let users = marked.filter(\.isValid)
        unstorableMembers += marked.count - users.count
        guard !users.isEmpty else { return 0 }
        // Redis's clock before the records are read: a deletion remembered at or after it came
        // after the read.
        var pipeline = RedisPipeline()
        pipeline.append("TIME")
        for start in stride(from: 0, to: users.count, by: 1_000) {
            pipeline.append(["HMGET", keys.members(in: guild)] + users[start..<min(start + 1_000, users.count)].map { String($0.rawValue) })
        }
        let replies = try await redis.execute(pipeline).map { try $0.orThrow() }
        progress.note()
        let readAt = try Self.milliseconds(fromTime: replies[0])
        let stored = replies.dropFirst().flatMap { $0.array ?? [] }
        let now = Date()
        let nowMilliseconds = UInt64(now.timeIntervalSince1970 * 1_000)
        let (records, missing, unreadable) = Self.sort(users, stored)
        try await deleteRowsOfDeleted(missing, in: guild)
        try await keepMarked(unreadable, in: guild)
        // Moderation cases weigh on trust, fading with time (docs/TRUST.md).
        // A few thousand members per read, each noted as progress: a guild's whole dirty set (its
        // journal refused) is a read per 500 members, which could outlast the lock.
        var cases: [UserID: [Punishment]] = [:]
        for start in stride(from: 0, to: records.count, by: 5_000) {
            let part = records[start..<min(start + 5_000, records.count)].map(\.0)
            cases.merge(try await store.cases(of: part, in: guild)) { $1 }
            progress.note()
        }
        let rows = records.map { user, record -> ServerUserStats in
            // Trust with everything known now: the member event's profile, activity, karma, cases.
            let signals = TrustFactor.Signals(user: user, record: record, cases: cases[user] ?? [])
            // Counts below zero, or a level past the curve's end, can only be a damaged or
            // hand-edited record: written within range, so that one member's record cannot fail
            // the guild's whole upsert at every checkpoint (PostgreSQL's INTEGER ends at 2^31 − 1).
            // The profile goes to SQL too: a guild loaded back from it is judged on the same.
            return ServerUserStats(
                guild: guild, user: user, xp: Int64(max(0, record.xp)), level: min(max(0, record.level), LevelCurve.maximumLevel),
                karma: Int64(record.karma),
                trust: TrustFactor.value(signals, now: nowMilliseconds), messageCount: Int64(max(0, record.messages)),
                xpMessages: Int64(max(0, record.xpMessages)), lastXPAt: record.lastXPAt.map { Int64(clamping: $0) }, updatedAt: now,
                asOf: Int64(clamping: readAt), hasAvatar: record.hasAvatar, joinedAt: record.joinedAt.map { Int64(clamping: $0) },
                isPending: record.isPending, isVerified: record.isVerified)
        }
        progress.note()
        await beforeWritingSQL?(guild)
        // In parts, each noted as progress: one statement over a huge guild could outlast the lock.
        var (written, refused) = (0, [UserID]())
        let deletedSince = readAt - Self.clockAllowanceMilliseconds
        for start in stride(from: 0, to: rows.count, by: rowsPerUpsert) {
            let part = Array(rows[start..<min(start + rowsPerUpsert, rows.count)])
            var result = try await upsert(part)
            if result == nil {
                // A guild deleted since the read is not registered again for rows that go anyway
                // (its configuration would stay); what was written is deleted below.
                if try await guildDeleted(guild, since: deletedSince) {
                    logger.notice("guild deleted while being checkpointed: not registered again", metadata: ["guild": "\(guild)"])
                    break
                }
                // A guild the store has not met yet (joined while it was away): register it, then write.
                try await store.registerGuild(guild)
                result = try await upsert(part)
            }
            written += result?.written ?? 0
            refused += result?.refused ?? []
            progress.note()
        }
        try await markAgain(refused, in: guild)
        // Only into a record that still exists: a member purged meanwhile stays purged. The rest
        // of the record is as Redis has it now (a flush may have changed it since it was read).
        var (purged, postedSince): ([UserID], [UserID]) = ([], [])
        func userIDs(_ list: RedisValue) -> [UserID] { (list.array ?? []).compactMap { $0.string.flatMap(UInt64.init).map(UserID.init) } }
        for start in stride(from: 0, to: rows.count, by: 1_000) {
            let trusts = rows[start..<min(start + 1_000, rows.count)].flatMap { [String($0.user.rawValue), String($0.trust)] }
            let reply = try await redis.evaluate(
                Self.trustScript, keys: [keys.members(in: guild), keys.deletions(in: guild)], arguments: [String(deletedSince)] + trusts)
            // Any other shape fails the guild (it stays marked) rather than pass for "nobody purged".
            guard let lists = reply.array, lists.count == 2, lists.allSatisfy({ $0.array != nil }) else {
                throw RedisError.protocolViolation("the trust script answered \(reply)")
            }
            let (gone, there) = (userIDs(lists[0]), userIDs(lists[1]))
            purged += gone + there
            postedSince += there
            progress.note()
        }
        // Their data was deleted after it was read here: the rows just written would bring it back
        // (only those: a row of a later read is that checkpoint's to judge). A record of theirs
        // there again (activity since) goes to SQL at a later checkpoint.
        if !purged.isEmpty {
            try await store.deleteServerUsers(purged.map { ($0, readNoLaterThan: Int64(clamping: readAt)) }, in: guild)
            try await markAgain(postedSince, in: guild)
            logger.notice("members deleted while being checkpointed: their rows were deleted again", metadata: ["guild": "\(guild)", "members": "\(purged.count)"])
        }
        return max(0, written - Set(purged).subtracting(refused).count)
    }

    /// Runs between reading a guild's records and writing them to SQL (tests hold a checkpoint there).
    private var beforeWritingSQL: (@Sendable (GuildID) async -> Void)?

    func pauseBeforeWritingSQL(_ body: @escaping @Sendable (GuildID) async -> Void) {
        beforeWritingSQL = body
    }

    /// Writes the rows; returns how many were written and whose SQL kept (it held a later read), nil
    /// when the store does not know the guild yet.
    private func upsert(_ rows: [ServerUserStats]) async throws -> (written: Int, refused: [UserID])? {
        do {
            let (written, refused) = try await store.upsertServerUsersKeepingLater(rows)
            if !refused.isEmpty {
                // One checkpointer at a time writes: a row SQL holds from a later read than this one
                // means Redis's clock went back (a failover to a replica whose clock is behind), or
                // this checkpoint's lock ran out. Their members stay marked, written once the
                // clock passes their read time (or a later read replaces them).
                rowsNotWritten += refused.count
                logger.warning("checkpoint: rows not written, SQL holds a later read of them (Redis's clock behind the one that wrote them?)", metadata: [
                    "guild": "\(rows[0].guild)", "rows": "\(refused.count)",
                ])
            }
            return (written, refused.map(\.user))
        } catch {
            if error.kind == .unknownGuild { return nil }
            throw error
        }
    }
}
