import Foundation
import DiscordModels
import KamiiCore
import KamiiRedis

/// One flush: the guild batches it carries, its id, how it is written, and what its replies mean.
/// Guilds whose script ran (or had already run) leave it; the rest are sent again, same id.
struct PendingFlush {
    let id: String
    private(set) var batches: [UInt64: GuildStatsBatch]
    private let keys: StatsKeys
    private let guildsPerCall: Int
    /// The guilds of each script call of the last pipeline, in order.
    private var calls: [[UInt64]] = []
    /// Whether the last pipeline was one MULTI/EXEC (a single Redis), and whether it ended in the
    /// commit of the records.
    private var transaction = false
    private var commits = false
    /// The last pipeline's change journal entry (field, pairs) and where its reply is among the
    /// commands' replies; nil when it wrote none.
    private var journal: (field: String, entry: [UInt8], reply: Int)?
    /// Pipelines built so far: each writes its own journal field, so a retry never replaces the entry
    /// of guilds an earlier attempt applied.
    private var attempts = 0

    /// Where each shard stood when the batches were taken: durable once the flush is applied.
    let positions: [Int: ShardPosition]
    /// Every guild the flush carried (applied ones leave `batches`): those of earlier round trips are
    /// what the commit checks by their markers.
    private let allGuilds: [UInt64]
    /// How guilds' thread maps changed up to ``positions``; written once, with the last of the
    /// flush's guilds (see ``ThreadMapWrites``).
    let threads: [UInt64: ThreadMapChange]
    private(set) var threadsWritten: Bool
    /// Where the last pipeline's thread writes are among the commands' replies.
    private var threadReplies: Range<Int>?

    /// How long the karma ledger remembers a reaction that gave karma (from its message's week, or
    /// from when it was given for an older message): removing it later takes nothing back.
    private let karmaMemoryMilliseconds: UInt64
    /// Subtracted from a batch's ``GuildStatsBatch/recordedAfter``: deletions remembered since then
    /// drop their members' changes (``StatsFlusher/Configuration/deletionClockAllowance``).
    private let deletionAllowanceMilliseconds: UInt64

    init(
        id: String, batches: [UInt64: GuildStatsBatch], keys: StatsKeys, guildsPerCall: Int = 1, positions: [Int: ShardPosition] = [:],
        threads: [UInt64: ThreadMapChange] = [:], karmaMemory: Duration = StatsFlusher.Configuration.defaultKarmaMemory, deletionClockAllowance: Duration = .seconds(5)
    ) {
        self.id = id
        karmaMemoryMilliseconds = UInt64(max(0, karmaMemory / .milliseconds(1)))
        deletionAllowanceMilliseconds = UInt64(max(0, deletionClockAllowance / .milliseconds(1)))
        self.positions = positions
        self.threads = threads
        threadsWritten = threads.isEmpty
        allGuilds = batches.keys.sorted()
        self.batches = batches
        self.keys = keys
        self.guildsPerCall = max(1, guildsPerCall)
    }

    /// One EVALSHA per up to `guildsPerCall` guilds whose batches began recording together, then
    /// (with `journal`) the ``ChangeJournal`` entry naming their members for the checkpointer, and
    /// one SADD naming the guilds with karma reactions (whose receivers only the script knows) — for
    /// as many of the flush's guilds as fit in `maxArguments` script arguments (at least one call):
    /// a backlog after an outage goes in several round trips, none long enough to time out.
    ///
    /// On a single Redis (more than one guild per call) each round trip is one MULTI/EXEC: its
    /// changes and its journal entry go in together or not at all, whenever the process dies. With
    /// `records` (the shards' sessions at the flush's positions), the flush's last part ends in the
    /// commit script, which writes them only if every guild of the flush has the batch (this round
    /// trip's counted by their calls, a guild that failed alone included; earlier ones' by their
    /// markers) and the journal has the entry: a process killed at any moment resumes exactly after
    /// what Redis has, and a guild refused (to rehydrate, or a NOSCRIPT inside EXEC) or a refused
    /// entry keeps them unwritten.
    mutating func pipeline(
        scriptHash: String, mustBeLoaded: Bool = false, maxArguments: Int = .max, records: [DurableWrite] = [],
        journal writesJournal: Bool = true, now: UInt64 = UInt64(Date().timeIntervalSince1970 * 1_000)
    ) -> RedisPipeline {
        var planned: [(call: ArraySlice<UInt64>, recordedAfter: UInt64, members: [Range<Int>], arguments: Int, replays: Bool)] = []
        var grouped = FlushMembers()
        var total = 0
        // Calls of up to `guildsPerCall` guilds whose batches began recording at the same time: the
        // script takes one such time per call. Most guilds of a flush share their take's; one held
        // back (waiting for SQL) keeps an earlier time, which must not make the guilds beside it look
        // into deletions made since.
        let byTime = batches.map { (recordedAfter: $0.value.recordedAfter, guild: $0.key) }.sorted { ($0.recordedAfter, $0.guild) < ($1.recordedAfter, $1.guild) }
        let remaining = byTime.map(\.guild)
        var start = 0
        while start < remaining.count {
            let recordedAfter = byTime[start].recordedAfter
            var end = start + 1
            while end < remaining.count, end - start < guildsPerCall, byTime[end].recordedAfter == recordedAfter { end += 1 }
            let call = remaining[start..<end]
            start = end
            var members: [Range<Int>] = []
            members.reserveCapacity(call.count)
            var arguments = 0
            // Each member's changes weigh as the argument of their own they once were: a round trip
            // holds as many members as before, and as much of Redis's time.
            var changesWeight = 0
            var replays = false
            for guild in call {
                let batch = batches[guild]!
                replays = replays || !batch.replayedMessages.isEmpty
                let range = grouped.append(batch)
                members.append(range)
                // With the position arguments, which the call may not carry: a budget, not a count.
                arguments += StatsFlushScript.guildHeaderArguments + StatsFlushScript.positionArguments + range.count
                    + (batch.karmaBots.count + batch.karmaReactions.count) * StatsFlushScript.argumentsPerKarmaReaction
                changesWeight += range.count
            }
            // A call holding replays names each guild's replayed session, too.
            if replays { arguments += StatsFlushScript.replaySessionArguments * call.count }
            if !planned.isEmpty && total + arguments + changesWeight > maxArguments { break }
            total += arguments + changesWeight
            planned.append((call, recordedAfter, members, arguments, replays))
        }
        calls = planned.map { Array($0.call) }
        let order = calls.flatMap { $0 }
        // One guild per call means Redis Cluster, where one transaction may not span slots.
        transaction = guildsPerCall > 1
        commits = transaction && !records.isEmpty && order.count == batches.count
        // Where the records go in with the changes, the sessions saved are never behind a guild: no
        // guild needs its own position kept (what a replay after a kill is judged by).
        let writesPositions = !commits
        var pipeline = RedisPipeline(capacity: 64 * batches.count + 1_024)
        var scratch = LittleEndianWriter(capacity: 256)
        var entry: [UInt8] = []
        attempts += 1
        // One counter per attempt: a count left by an earlier one could never be mistaken for its own.
        let confirmations = commits ? keys.flushConfirmations(of: "\(id):\(attempts)") : ""
        if transaction { pipeline.append("MULTI") }
        for plan in planned {
            let call = plan.call
            // A call holding replayed messages judges them by the positions kept.
            let positionMode = (writesPositions ? StatsFlushScript.writesPositions : 0) + (plan.replays ? StatsFlushScript.readsPositions : 0)
            let unsentPositions = positionMode == 0 ? StatsFlushScript.positionArguments * call.count : 0
            // Where the transaction ends in the commit, each call counts its guilds that have the batch.
            let counter = commits ? 1 : 0
            pipeline.beginCommand(arguments: 9 + call.count + counter + plan.arguments - unsentPositions)
            pipeline.appendArgument("EVALSHA")
            pipeline.appendArgument(scriptHash)
            pipeline.appendArgument(call.count + counter)
            for guild in call { pipeline.appendMembersKey(keys, guild) }
            if commits { pipeline.appendArgument(confirmations) }
            pipeline.appendArgument(id)
            pipeline.appendArgument(mustBeLoaded ? 1 : 0)
            pipeline.appendArgument(Int(now))
            pipeline.appendArgument(Int(karmaMemoryMilliseconds))
            // Its guilds' batches began recording together; a message in them recorded late (replayed
            // after a restart) reaches back to its own time.
            var since = plan.recordedAfter
            for guild in call { since = min(since, batches[guild]!.earliestMessageTime) }
            pipeline.appendArgument(since > deletionAllowanceMilliseconds ? since - deletionAllowanceMilliseconds : 0)
            pipeline.appendArgument(positionMode + (commits ? StatsFlushScript.confirmsGuilds : 0))
            for (guild, range) in zip(call, plan.members) {
                let batch = batches[guild]!
                let members = grouped.members[range]
                pipeline.appendGuildPrefix(keys, guild)
                // The guild's numbers and every member's changes in one argument: Redis makes a Lua
                // string of each argument, and most guilds of a flush have one to four members.
                scratch.removeAll()
                scratch.append(Double(batch.cooldownMilliseconds))
                scratch.append(Int32(clamping: members.count))
                scratch.append(Int32(clamping: batch.karmaBots.count + batch.karmaReactions.count))
                scratch.append(Double(batch.karmaCooldownMilliseconds))
                for member in members { grouped.append(member, to: &scratch) }
                pipeline.appendArgument(bytes: scratch.bytes[...])
                if positionMode != 0 {
                    // Where the guild's counted messages end: kept with it, or what its replays are judged with.
                    pipeline.appendArgument(batch.sessionTag)
                    pipeline.appendArgument(batch.lastSequence)
                }
                // What its replayed messages are judged by: the positions kept of their own session.
                if plan.replays { pipeline.appendArgument(batch.replayedSessionTag) }
                // The user ids, each an argument of its own: the script hands them to Redis straight
                // from its arguments.
                for member in members {
                    pipeline.appendArgument(member.user)
                    if writesJournal { ChangeJournal.append(guild: guild, user: member.user, to: &entry) }
                }
                // Bots first, as karma entries of their own: no reaction of the batch gives them any.
                for bot in batch.karmaBots {
                    pipeline.appendArgument(0)
                    pipeline.appendArgument(StatsFlushScript.botEntry)
                    pipeline.appendArgument(bot)
                    pipeline.appendArgument(0)
                }
                for reaction in batch.karmaReactions {
                    pipeline.appendArgument(Int(MessageID(reaction.message).unixMilliseconds / StatsKeys.karmaWeekMilliseconds))
                    // A clear names the message and its emoji keys (none: every emoji's); the script
                    // scans the ledger for them.
                    if reaction.everyEmoji {
                        pipeline.appendArgument("\(reaction.message):*")
                    } else if reaction.giver == GuildStatsBatch.KarmaReaction.everyGiver {
                        // One emoji's clear: every key its reactions may be kept under, one pass.
                        let keys = reaction.clearedEmoji.isEmpty ? [reaction.emoji] : reaction.clearedEmoji
                        pipeline.appendArgument("\(reaction.message):*:" + keys.map(String.init).joined(separator: ","))
                    } else {
                        pipeline.appendArgument("\(reaction.message):\(reaction.giver):\(reaction.emoji)")
                    }
                    pipeline.appendArgument(reaction.receiver.map(String.init) ?? "")
                    pipeline.appendArgument(Int(reaction.givenAt))
                }
            }
        }
        var commands = planned.count
        journal = nil
        if writesJournal && !entry.isEmpty {
            let field = "\(id):\(attempts)"
            pipeline.beginCommand(arguments: 4)
            pipeline.appendArgument("HSET")
            pipeline.appendArgument(keys.changeJournal)
            pipeline.appendArgument(field)
            pipeline.appendArgument(bytes: entry)
            journal = (field, entry, commands)
            commands += 1
        }
        let karmaGuilds = order.filter { !batches[$0]!.karmaReactions.isEmpty }
        if !karmaGuilds.isEmpty {
            pipeline.beginCommand(arguments: 2 + karmaGuilds.count)
            pipeline.appendArgument("SADD")
            pipeline.appendArgument(keys.dirtyGuilds)
            for guild in karmaGuilds { pipeline.appendArgument(guild) }
        }
        threadReplies = nil
        // With the last of the flush's guilds, the round trip that commits the sessions (on a
        // single Redis, in its transaction): the maps are never ahead of a backlog's guilds.
        if !threadsWritten && order.count == batches.count {
            let first = commands + (karmaGuilds.isEmpty ? 0 : 1)
            threadReplies = first..<first + ThreadMapWrites.append(threads, keys: keys, to: &pipeline)
        }
        if commits {
            // This round trip's guilds confirm themselves through the counter; those of earlier
            // round trips are judged by their markers.
            let sentNow = Set(order)
            let appliedEarlier = allGuilds.filter { !sentNow.contains($0) }
            let counterKeys = order.isEmpty ? 0 : 1
            let journalKeys = journal == nil ? 0 : 1
            pipeline.beginCommand(arguments: 7 + counterKeys + appliedEarlier.count + journalKeys + 3 * records.count)
            pipeline.appendArgument("EVAL")
            pipeline.appendArgument(StatsFlushScript.commit.source)
            pipeline.appendArgument(counterKeys + appliedEarlier.count + journalKeys)
            if counterKeys == 1 { pipeline.appendArgument(confirmations) }
            for guild in appliedEarlier { pipeline.appendMembersKey(keys, guild) }
            if journal != nil { pipeline.appendArgument(keys.changeJournal) }
            pipeline.appendArgument(id)
            pipeline.appendArgument(journal?.field ?? "")
            pipeline.appendArgument(order.isEmpty ? "" : String(order.count))
            pipeline.appendArgument(bytes: positionsIfRefused(order))
            for record in records {
                pipeline.appendArgument(record.key)
                pipeline.appendArgument(record.value)
                pipeline.appendArgument(record.ttlMilliseconds)
            }
        }
        if transaction { pipeline.append("EXEC") }
        return pipeline
    }

    /// What the commit keeps, should it refuse, in place of the sessions it does not save: each of
    /// `guilds`' position (their calls wrote none, the sessions were to be saved with them), one
    /// line per guild, `members key<TAB>tag:s`. Without it a kill before the sessions go in later
    /// would replay messages whose counts are in, and count them again.
    private func positionsIfRefused(_ guilds: [UInt64]) -> [UInt8] {
        var lines: [UInt8] = []
        lines.reserveCapacity(guilds.count * (keys.prefix.utf8.count + 64))
        for guild in guilds {
            guard let batch = batches[guild], batch.sessionTag != 0 else { continue }
            keys.appendMembersKey(of: guild, to: &lines)
            lines.append(UInt8(ascii: "\t"))
            RedisPipeline.appendDecimal(batch.sessionTag, to: &lines)
            lines.append(UInt8(ascii: ":"))
            RedisPipeline.appendDecimal(batch.lastSequence, to: &lines)
            lines.append(UInt8(ascii: "\n"))
        }
        return lines
    }

    /// Takes a guild out of the flush (Redis refused it and it cannot be rehydrated now): nothing of
    /// its batch was applied, so its changes may wait and go later under another id.
    mutating func setAside(_ guild: UInt64) -> GuildStatsBatch? {
        batches.removeValue(forKey: guild)
    }

    /// Reads the replies of ``pipeline(scriptHash:)``: guilds that are done leave the flush.
    mutating func settle(_ replies: [RedisValue]) -> Outcome {
        guard transaction else { return settleCommands(replies) }
        // MULTI, QUEUED per command, then EXEC's array of the real replies (or an error: nothing applied).
        guard case .array(let results)? = replies.last else {
            var outcome = Outcome()
            let reason = replies.first { if case .error = $0 { true } else { false } } ?? replies.last ?? .null
            if case .error(let message) = reason, message.contains("NOSCRIPT") { outcome.scriptMissing = true }
            outcome.error = "the transaction was not applied: \(reason)"
            return outcome
        }
        var outcome = settleCommands(results)
        outcome.recordsWritten = commits && results.last == .integer(1)
        return outcome
    }

    private mutating func settleCommands(_ replies: [RedisValue]) -> Outcome {
        var outcome = Outcome()
        if let threadReplies, threadReplies.upperBound <= replies.count {
            let verdict = ThreadMapWrites.judge(replies[threadReplies])
            threadsWritten = verdict.written
            outcome.threadErrors = verdict.givenUp
            if let retry = verdict.retry { outcome.error = "thread maps: \(retry)" }
        }
        outcome.threadsWritten = threadsWritten
        if let journal, journal.reply < replies.count, case .error = replies[journal.reply] {
            outcome.unjournaled = (journal.field, journal.entry)
        }
        for (index, call) in calls.enumerated() {
            guard index < replies.count else { break }
            switch replies[index] {
            case .array(let values):
                var rest = values[...]
                for guild in call {
                    // This guild and the ones after it stay in the flush, sent again under the same id.
                    guard let reply = FlushGuildReply(&rest) else {
                        outcome.error = "guild \(guild): the script's reply is cut short or not of its shape"
                        break
                    }
                    if reply.applied == FlushGuildReply.unloaded {
                        outcome.unloaded.append(guild)
                        continue
                    }
                    if reply.applied == FlushGuildReply.broken {
                        if let batch = batches.removeValue(forKey: guild) {
                            outcome.deltas += batch.deltaCount
                            outcome.broken.append((guild, reply.error ?? "unknown error", batch.deltaCount))
                        }
                        continue
                    }
                    guard let batch = batches.removeValue(forKey: guild) else { continue }
                    outcome.applied += 1
                    outcome.deltas += batch.deltaCount
                    outcome.guilds.append((guild, batch.deltaCount))
                    // No more than the batch holds, whatever the reply says (it is the network's).
                    outcome.grants += min(max(0, reply.applied), batch.deltaCount)
                    if reply.applied == FlushGuildReply.appliedEarlier,
                        batch.changes.contains(where: \.isGrant) || batch.profiles.values.contains(where: { $0.restoresRewards || $0.endsScreening })
                    {
                        outcome.appliedEarlier.append(guild)
                    }
                    for up in reply.levelUps {
                        if up.from < 0 {
                            outcome.joins.append(MemberJoin(guild: GuildID(guild), user: UserID(up.user), mark: id))
                        } else {
                            outcome.levelUps.append(LevelUp(guild: GuildID(guild), user: UserID(up.user), from: up.from, to: up.to))
                        }
                    }
                }
                if outcome.error == nil, !rest.isEmpty {
                    outcome.error = "guilds \(call.first ?? 0)…: the script's reply has \(rest.count) values more than its guilds'"
                }
            case .error(let message) where message.hasPrefix("NOSCRIPT"):
                outcome.scriptMissing = true
                outcome.error = message
            case .error(let message):
                outcome.error = "guilds \(call.first ?? 0)…: \(message)"
            default:
                outcome.error = "guilds \(call.first ?? 0)…: unexpected reply \(replies[index])"
            }
        }
        return outcome
    }
}
