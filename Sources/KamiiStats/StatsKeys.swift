public import DiscordModels

/// Where a guild's live stats live in Redis. Every key of a guild carries the hash tag
/// `{guild_id}`, so on Redis Cluster a guild's keys share one slot and one script can touch them.
///
/// - `<prefix>:{g}:members` — hash: user ID → the member's ``MemberRecord`` (xp, level, messages,
///   XP messages, last XP time, karma, trust and what member events said); its `~batch` field is
///   the last flush batch applied (what makes a retried flush a no-op), its `~deleted` field the
///   time of the guild's latest privacy deletion (read with the marker: the flush looks at the
///   deletions hash only when a deletion may concern its changes), its `~pos` field where its
///   counted messages end in their shard's session (a replay after a restart is judged by it)
/// - `<prefix>:{g}:lb:xp`, `<prefix>:{g}:lb:karma` — sorted sets (the leaderboards)
/// - `<prefix>:{g}:levelups` — hash: user → `from:to`, level-ups not carried out yet
/// - `<prefix>:{g}:joins` — hash: user → the id of the flush that kept the join, returning members
///   (a join with a level above 0) not given their rewards back yet
/// - `<prefix>:{g}:dirty` — set of members changed since the last checkpoint that the change journal
///   does not name: karma receivers known only to the flush script (from the ledger), and the
///   members of a journal entry Redis refused
/// - `<prefix>:{g}:karma:<week>` — hash: `message:giver:emoji` → receiver, the reactions that gave
///   karma on messages of that week (weeks since 1970, UTC); expires with the flusher's karma memory
/// - `<prefix>:{g}:karma-index:<week>` — sorted set: the ledger's fields, every score 0, so one
///   message's entries are one lexicographic range (a clear of its reactions reads that range, not
///   the week's ledger); begun afresh with its ledger, with the member ``karmaIndexedMarker`` which
///   says it covers the whole ledger (a ledger begun by an earlier version, or one whose entry
///   count the index does not match, is scanned instead); runs out when its ledger does
/// - `<prefix>:{g}:karma-pair:<giver>:<receiver>` — string: when the giver last gave the receiver
///   karma (Unix ms, the bot's clock), kept until the guild's pair cooldown from then ends: what holds
///   the cooldown across evictions and restarts
/// - `<prefix>:{g}:bots` — set of the bots the guild's actors saw while karma was on: no karma
///   reaches them, whichever actor judged the reaction
/// - `<prefix>:{g}:loading` — string: the token of the process loading the guild from SQL, while it
///   does (``GuildLoadScripts``); runs out if that process dies
/// - `<prefix>:{g}:deleted` — hash: user → when a privacy request purged their record or ledger
///   entries (Redis's clock, ms), field `*` for the whole guild; what tells the checkpointer a
///   record it read was deleted rather than lost with Redis, and the flush which held changes to
///   leave out. Expires ``tombstoneLifetimeMilliseconds`` after the last deletion
/// - `<prefix>:{g}:threads` — hash: thread ID → the channel it is in, the guild's active threads as
///   far as the flushed stats go (``ThreadMapChange``): what a restarted process that resumes its
///   sessions, and so gets no GUILD_CREATE, starts from (``StoredThreadParents``)
/// - `<prefix>:{thread-guilds}` — set of guilds that may have a `:threads` hash (read at start; a
///   guild whose hash is gone is taken out then)
/// - `<prefix>:{dirty-guilds}` — set of guilds whose `:dirty` set may name members: guilds whose
///   flushes carried karma reactions, or whose journal entry Redis refused (one per deployment;
///   tagged so its `:checkpointing` twin shares its slot)
/// - `<prefix>:{dirty-guilds}:journal` — hash: one field per flush round trip → the (guild, user)
///   pairs of every member it changed, 16 bytes each (two little-endian UInt64s); the
///   checkpointer deletes a field once SQL has its members
/// - `<prefix>:{dirty-guilds}:checkpoint-lock` — string: the token of the checkpointer at work
///   (``CheckpointLock``), one at a time per Redis; runs out a minute after its last renewal
public struct StatsKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "kamii") {
        self.prefix = prefix
    }

    /// The start shared by every key of `guild`.
    public func guildPrefix(_ guild: GuildID) -> String { "\(prefix):{\(guild.rawValue)}:" }
    public func members(in guild: GuildID) -> String { guildPrefix(guild) + "members" }
    public func waitingLevelUps(in guild: GuildID) -> String { guildPrefix(guild) + "levelups" }
    public func waitingJoins(in guild: GuildID) -> String { guildPrefix(guild) + "joins" }
    public func leaderboard(_ board: Leaderboard, in guild: GuildID) -> String { guildPrefix(guild) + "lb:\(board.rawValue)" }
    public func dirtyMembers(in guild: GuildID) -> String { guildPrefix(guild) + "dirty" }
    public func karmaLedger(in guild: GuildID, week: UInt64) -> String { guildPrefix(guild) + "karma:\(week)" }
    public func karmaIndex(in guild: GuildID, week: UInt64) -> String { guildPrefix(guild) + "karma-index:\(week)" }
    /// The index of the ledger named `ledger` (a key ``karmaLedger(in:week:)`` gives).
    public func karmaIndex(ofLedger ledger: String) -> String? {
        guard let colon = ledger.lastIndex(of: ":"), ledger[..<colon].hasSuffix("}:karma") else { return nil }
        return ledger[..<colon] + "-index" + ledger[colon...]
    }
    /// The ledger whose index is `index` (a key ``karmaIndex(in:week:)`` gives).
    public func karmaLedger(ofIndex index: String) -> String? {
        guard let colon = index.lastIndex(of: ":"), index[..<colon].hasSuffix("}:karma-index") else { return nil }
        return String(index[..<colon].dropLast("-index".count)) + index[colon...]
    }
    /// The member of a karma index that says it holds every field of its ledger (it sorts after
    /// every `message:giver:emoji`, so no message's range takes it in).
    public static let karmaIndexedMarker = "~indexed"
    public func deletions(in guild: GuildID) -> String { guildPrefix(guild) + "deleted" }
    public func bots(in guild: GuildID) -> String { guildPrefix(guild) + "bots" }
    public func loadLock(in guild: GuildID) -> String { guildPrefix(guild) + "loading" }
    public func threads(in guild: GuildID) -> String { guildPrefix(guild) + "threads" }
    public var threadGuilds: String { "\(prefix):{thread-guilds}" }
    /// The field of a guild's deletions hash that stands for the whole guild.
    public static let wholeGuild = "*"
    /// How long a deletion is remembered: far longer than a checkpoint takes from its read of Redis
    /// to its write back of trust.
    public static let tombstoneLifetimeMilliseconds = 86_400_000
    /// SCAN patterns: a guild's karma ledgers, every guild's.
    public func karmaLedgers(in guild: GuildID) -> String { guildPrefix(guild) + "karma:*" }
    public var everyKarmaLedger: String { "\(prefix):{*}:karma:*" }
    /// SCAN pattern: a guild's karma keys — ledgers, indexes, pair cooldowns.
    public func karmaKeys(in guild: GuildID) -> String { guildPrefix(guild) + "karma*" }
    /// SCAN pattern: every guild's members hash and karma keys (ledgers, indexes, pair cooldowns) —
    /// what a user's privacy deletion looks through, found by one walk of the keyspace (SCAN visits
    /// every key whatever it matches, so one broader walk costs Redis a third of three narrow ones).
    public var everyMembersOrKarmaKey: String { "\(prefix):{*}:[km]*" }
    public func karmaPair(in guild: GuildID, giver: UserID, receiver: UserID) -> String {
        guildPrefix(guild) + "karma-pair:\(giver.rawValue):\(receiver.rawValue)"
    }
    /// SCAN pattern: every guild's karma pair cooldowns.
    public var everyKarmaPair: String { "\(prefix):{*}:karma-pair:*" }
    /// The giver and receiver a karma pair cooldown's key names; nil for any other key.
    public func karmaPair(ofKey key: String) -> (giver: UserID, receiver: UserID)? {
        guard let marker = key.range(of: "}:karma-pair:") else { return nil }
        let ids = key[marker.upperBound...].split(separator: ":")
        guard ids.count == 2, let giver = UInt64(ids[0]), let receiver = UInt64(ids[1]) else { return nil }
        return (UserID(giver), UserID(receiver))
    }
    /// The karma ledger's buckets: a week of messages each.
    public static let karmaWeekMilliseconds: UInt64 = 7 * 86_400_000
    /// The field of a guild's members hash that holds the last flush batch applied to it
    /// (`hydrated` when loaded from SQL, or purged).
    public static let batchField = "~batch"
    /// The field of a guild's members hash that holds the batch markers of other processes this
    /// guild's marker replaced, the latest per process (space-separated, eight at most): how a
    /// process that retries a batch after another flushed the guild tells whether it was applied.
    public static let otherProcessesBatchField = "~batch-others"
    /// The field of a guild's members hash that holds when its latest deletion was remembered.
    public static let deletedField = "~deleted"
    /// The field of a guild's members hash that holds the session tag and `s` (`tag:s`) its last
    /// batch counted messages up to (see ``StatsFlushScript``).
    public static let positionField = "~pos"
    public var dirtyGuilds: String { "\(prefix):{dirty-guilds}" }
    /// The flushes' journal of changed members (what the checkpointer copies to SQL).
    public var changeJournal: String { dirtyGuilds + ":journal" }
    /// How many guilds of one attempt of a flush (`id:attempt`) confirmed its batch; read and
    /// deleted by the transaction's last command (``StatsFlushScript/commit``), so it exists only
    /// inside the transaction.
    func flushConfirmations(of attempt: String) -> String { dirtyGuilds + ":confirmed:" + attempt }

    /// The guild whose members hash `key` is; nil for any other key.
    public func guild(ofMembersKey key: String) -> GuildID? {
        key.hasSuffix("}:members") ? guild(ofKey: key) : nil
    }

    /// The guild a key of it belongs to (read back from its hash tag); nil for any other key.
    public func guild(ofKey key: String) -> GuildID? {
        let start = prefix + ":{"
        guard key.hasPrefix(start), let close = key.firstIndex(of: "}") else { return nil }
        return UInt64(key[key.index(key.startIndex, offsetBy: start.count)..<close]).map(GuildID.init)
    }
}

/// What a leaderboard ranks by.
public enum Leaderboard: String, Sendable, CaseIterable {
    case xp, karma
}
