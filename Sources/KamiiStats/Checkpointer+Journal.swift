import DiscordModels
import KamiiRedis

/// The change journal's walk: every member a flush changed, copied to SQL in parts of bounded
/// memory, and kept — in entries of bounded size — while SQL refuses them.
extension Checkpointer {
    /// Entries sized per round trip (each up to a flush's members, 16 bytes apiece).
    static let journalPage = 64
    /// Bytes of entries read per round trip at most (an entry larger than that is read alone).
    static let journalBytesPerRead = 8 << 20

    /// The members the change journal names, in parts: entries are read a page at a time and merged
    /// until a part holds ``journalMembersPerPart`` members (the entry that fills it is the part's
    /// last; the page's rest waits for the next part), its guilds are checkpointed, then the part's
    /// entries are deleted and, in the same transaction, replaced by entries naming the members of
    /// the guilds that failed, a part's worth at most each — so nothing named is forgotten, the
    /// journal does not grow with every attempt while SQL is away, and its retry entries are not
    /// merged, attempt after attempt, into one naming everything the outage changed. A guild whose
    /// members hash is not a hash (the flusher reports it broken) is dropped.
    func checkpointJournal(into report: inout Report) async throws {
        let journal = keys.changeJournal
        var fields = (try await redis.send("HKEYS", journal).array ?? []).compactMap(\.string)[...]
        journalParts = []
        while !fields.isEmpty {
            var taken: [String] = []
            var members: [UInt64: Set<UInt64>] = [:]
            var gathered = 0
            while !fields.isEmpty && gathered < journalMembersPerPart {
                progress.note()
                // The next entries' sizes first: a part ends at the entry that fills it, and a read
                // holds ``journalBytesPerRead`` at most (one entry at least) — a page of retry
                // entries, a part's worth each, read whole would be hundreds of MB.
                let candidates = Array(fields.prefix(Self.journalPage))
                var sizing = RedisPipeline()
                for field in candidates { sizing.append("HSTRLEN", journal, field) }
                // A size no Redis string has (512 MiB at most) is a damaged reply, not a sum to overflow.
                let sizes = try await redis.execute(sizing).map { reply in
                    let size = try reply.orThrow().int ?? 0
                    guard (0...(512 << 20)).contains(size) else { throw RedisError.protocolViolation("HSTRLEN answered \(size)") }
                    return size
                }
                var (chosen, bytes) = (0, 0)
                for size in sizes {
                    guard gathered < journalMembersPerPart, chosen == 0 || bytes + size <= Self.journalBytesPerRead else { break }
                    chosen += 1
                    bytes += size
                    gathered += size / ChangeJournal.pairSize
                }
                let page = Array(candidates.prefix(chosen))
                fields = fields.dropFirst(chosen)
                var read = RedisPipeline()
                read.append(["HMGET", journal] + page)
                let entries = try await redis.execute(read).first?.orThrow().array ?? []
                guard entries.count == page.count else {
                    throw RedisError.protocolViolation("HMGET of \(page.count) fields answered \(entries.count) values")
                }
                for (field, entry) in zip(page, entries) {
                    // No entry: another checkpointer took it meanwhile.
                    guard let bytes = entry.bytes else { continue }
                    if !ChangeJournal.read(bytes, into: &members) {
                        logger.error("checkpoint: a change journal entry that is not one is dropped", metadata: ["field": "\(field)", "bytes": "\(bytes.count)"])
                    }
                }
                taken += page
            }
            journalParts.append(gathered)
            var failed: [UInt64: Set<UInt64>] = [:]
            for (guild, users) in members.sorted(by: { $0.key < $1.key }) {
                progress.note()
                do {
                    report.members += try await checkpoint(GuildID(guild), users: users.map(UserID.init))
                    report.guilds += 1
                } catch let error as RedisError where error.isWrongType {
                    report.failures += 1
                    logBroken(guild, error)
                } catch {
                    failed[guild] = users
                    report.failures += 1
                    logger.error("checkpoint of a guild failed; its members stay in the journal", metadata: ["guild": "\(guild)", "error": "\(error)"])
                }
            }
            var replace = RedisPipeline()
            replace.append("MULTI")
            for entry in ChangeJournal.entries(failed, membersEach: journalMembersPerPart) {
                replace.beginCommand(arguments: 4)
                replace.appendArgument("HSET")
                replace.appendArgument(journal)
                replace.appendArgument("retry-\(UInt64.random(in: 1...UInt64.max))")
                replace.appendArgument(bytes: entry)
            }
            for start in stride(from: 0, to: taken.count, by: 1_000) {
                replace.append(["HDEL", journal] + taken[start..<min(start + 1_000, taken.count)])
            }
            replace.append("EXEC")
            try await redis.executeTransaction(replace)
        }
    }
}
