public import DiscordGateway
public import DiscordModels
import Synchronization

/// The channel each active thread (or forum post) belongs to, so a thread follows its channel's
/// XP rules: a message's `channel_id` is the thread's, and Discord does not say the parent there.
///
/// Learnt from the gateway, in the order the guild's shard delivers it, as Discord describes each
/// event: GUILD_CREATE lists every active thread of the guild (what was known before is replaced);
/// THREAD_CREATE and THREAD_UPDATE (an archived thread is forgotten; a message to it unarchives it
/// first, which Discord announces with a THREAD_UPDATE); THREAD_DELETE; THREAD_LIST_SYNC (the
/// active threads of the channels named, or of the whole guild); GUILD_DELETE when the bot left.
/// A payload that is not what Discord sends changes nothing. Kept outside the guild actors, which
/// are evicted when idle; each change also goes to the stats buffer with the shard's position
/// (``ThreadMapChange``), so what Redis keeps of the map is as far as the saved sessions, and a
/// restarted process that resumes them starts from it (``restore(_:of:)``).
public final class ThreadParents: Sendable {
    /// At most this many threads are remembered; past it a new thread is not (its messages follow
    /// the rules set for the thread itself, as before threads were known). About 80 bytes each.
    public let limit: Int
    private let stripes: [Stripe]
    private let count = Atomic<Int>(0)
    private let overflows = Atomic<Int>(0)
    private let storedMapsUnknown = Atomic<Bool>(false)

    private final class Stripe: Sendable {
        /// Thread → parent channel, per guild.
        let guilds = Mutex<[UInt64: [UInt64: UInt64]]>([:])
    }

    public init(limit: Int = 1_000_000) {
        self.limit = limit
        stripes = (0..<16).map { _ in Stripe() }
    }

    /// The channel `channel` belongs to if it is a known active thread of `guild`.
    public func parent(of channel: UInt64, in guild: GuildID) -> UInt64? {
        stripe(guild).guilds.withLock { $0[guild.rawValue]?[channel] }
    }

    /// Threads remembered now.
    public var threadCount: Int { count.load(ordering: .relaxed) }

    /// Threads not remembered because the limit was reached.
    public var overflowCount: Int { overflows.load(ordering: .relaxed) }

    /// Whether ``learn(from:)`` wants this event (the rest pass by without being read).
    public static func reads(_ name: String) -> Bool {
        switch name {
        case "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE", "THREAD_LIST_SYNC", "GUILD_CREATE", "GUILD_DELETE": true
        default: false
        }
    }

    /// Updates the map from one dispatch of a guild and says how the guild's map changed (to be
    /// kept with the stats); nil when its payload is not what Discord sends (then nothing changed).
    @discardableResult
    public func learn(from dispatch: ShardDispatch) -> ThreadMapChange? {
        guard let guild = dispatch.guildID else { return ThreadMapChange() }
        let read = dispatch.payload.withUnsafeBytes { payload in
            Result { () throws(JSONScanError) in
                var scanner = JSONScanner(payload, at: dispatch.dataRange.lowerBound)
                return try Self.change(of: dispatch.name, &scanner)
            }
        }
        guard case .success(let change) = read else { return nil }
        return apply(change, to: guild)
    }

    /// Sets a guild's map to what was kept of it (a process starting; nothing is reported as a
    /// change). Within the limit, like threads learnt from events.
    public func restore(_ parents: [UInt64: UInt64], of guild: GuildID) {
        stripe(guild).guilds.withLock { guilds in
            var threads = guilds.removeValue(forKey: guild.rawValue) ?? [:]
            count.subtract(threads.count, ordering: .relaxed)
            threads.removeAll()
            for (thread, parent) in parents { add(Thread(id: thread, parent: parent), to: &threads) }
            if !threads.isEmpty { guilds[guild.rawValue] = threads }
        }
    }

    /// The maps kept in Redis could not be read at the start: from now on a whole-guild list
    /// (GUILD_CREATE, the bot leaving) is reported as a replacement even where memory did not
    /// change, so what Redis kept from before is not left behind.
    public func storedMapsAreUnknown() {
        storedMapsUnknown.store(true, ordering: .relaxed)
    }

    /// The map of one guild, thread → channel.
    public func threads(of guild: GuildID) -> [UInt64: UInt64] {
        stripe(guild).guilds.withLock { $0[guild.rawValue] ?? [:] }
    }

    /// What an event says, read in full before anything is changed.
    enum Change {
        case thread(Thread)
        case deleted(UInt64)
        /// Every active thread of the guild (GUILD_CREATE, THREAD_LIST_SYNC without channel_ids).
        case all([Thread])
        /// The active threads of these parent channels (THREAD_LIST_SYNC with channel_ids).
        case channels(Set<UInt64>, [Thread])
        case guildGone
        case none
    }

    /// What a channel object says about a thread.
    struct Thread {
        var id: UInt64?
        var parent: UInt64?
        var archived = false
    }

    static func change(of event: String, _ scanner: inout JSONScanner) throws(JSONScanError) -> Change {
        switch event {
        case "THREAD_CREATE", "THREAD_UPDATE":
            return .thread(try thread(&scanner))
        case "THREAD_DELETE":
            return try thread(&scanner).id.map(Change.deleted) ?? .none
        case "GUILD_DELETE":
            var unavailable = false
            try scanner.forEachMember { key, scanner throws(JSONScanError) in
                if key == "unavailable" {
                    unavailable = try flag(&scanner)
                } else {
                    _ = try scanner.skipValue()
                }
            }
            // Unavailable is an outage: the threads are still there when it ends.
            return unavailable ? .none : .guildGone
        case "GUILD_CREATE", "THREAD_LIST_SYNC":
            var threads: [Thread]?
            var channels: Set<UInt64>?
            var unavailable = false
            // A key given twice: the last one counts, as in any JSON parser, whatever its form (a
            // list that is not one — null — is no list).
            try scanner.forEachMember { key, scanner throws(JSONScanError) in
                if key == "threads" {
                    threads = nil
                    guard scanner.peekValueStart() == UInt8(ascii: "[") else { _ = try scanner.skipValue(); return }
                    var listed: [Thread] = []
                    try scanner.forEachElement { scanner throws(JSONScanError) in listed.append(try thread(&scanner)) }
                    threads = listed
                } else if key == "unavailable" {
                    unavailable = try flag(&scanner)
                } else if key == "channel_ids", event == "THREAD_LIST_SYNC" {
                    channels = nil
                    guard scanner.peekValueStart() == UInt8(ascii: "[") else { _ = try scanner.skipValue(); return }
                    var ids = Set<UInt64>()
                    try scanner.forEachElement { scanner throws(JSONScanError) in
                        if let id = try scanner.readSnowflake() { ids.insert(id) }
                    }
                    channels = ids
                } else {
                    _ = try scanner.skipValue()
                }
            }
            // An unavailable guild (an outage) or one sent without its threads says nothing about them.
            guard !unavailable, let threads else { return .none }
            return channels.map { .channels($0, threads) } ?? .all(threads)
        default:
            return .none
        }
    }

    /// A boolean member's value: true only for `true` — false, null or another kind of value is
    /// not, so that a key given again replaces what it said before whatever its form.
    private static func flag(_ scanner: inout JSONScanner) throws(JSONScanError) -> Bool {
        let start = scanner.peekValueStart()
        if start == UInt8(ascii: "t") || start == UInt8(ascii: "f") { return try scanner.readBool() }
        _ = try scanner.skipValue()
        return false
    }

    static func thread(_ scanner: inout JSONScanner) throws(JSONScanError) -> Thread {
        var thread = Thread()
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "id" {
                thread.id = try scanner.readSnowflake()
            } else if key == "parent_id" {
                thread.parent = try scanner.readSnowflake()
            } else if key == "thread_metadata" {
                // Given again, the last one counts (one without `archived` says not archived).
                thread.archived = false
                guard scanner.peekValueStart() == UInt8(ascii: "{") else { _ = try scanner.skipValue(); return }
                try scanner.forEachMember { key, scanner throws(JSONScanError) in
                    if key == "archived" {
                        thread.archived = try flag(&scanner)
                    } else {
                        _ = try scanner.skipValue()
                    }
                }
            } else {
                _ = try scanner.skipValue()
            }
        }
        return thread
    }

    private func apply(_ change: Change, to guild: GuildID) -> ThreadMapChange {
        if case .none = change { return ThreadMapChange() }
        let unsure = storedMapsUnknown.load(ordering: .relaxed)
        return stripe(guild).guilds.withLock { guilds in
            var threads = guilds.removeValue(forKey: guild.rawValue) ?? [:]
            defer { if !threads.isEmpty { guilds[guild.rawValue] = threads } }
            // One thread: its own change, without a copy of the guild's map.
            func changed(_ id: UInt64, from before: UInt64?) -> ThreadMapChange {
                let after = threads[id]
                return before == after ? ThreadMapChange() : ThreadMapChange(parents: [id: after ?? ThreadMapChange.forgotten])
            }
            switch change {
            case .thread(let thread):
                guard let id = thread.id else { return ThreadMapChange() }
                let before = threads[id]
                add(thread, to: &threads)
                return changed(id, from: before)
            case .deleted(let id):
                guard threads.removeValue(forKey: id) != nil else { return ThreadMapChange() }
                count.subtract(1, ordering: .relaxed)
                return ThreadMapChange(parents: [id: ThreadMapChange.forgotten])
            case .all(let listed):
                let before = threads
                count.subtract(threads.count, ordering: .relaxed)
                threads.removeAll()
                for thread in listed { add(thread, to: &threads) }
                // Redis may hold what memory does not (its maps could not be read at the start).
                return unsure || before != threads ? ThreadMapChange(replacesAll: true, parents: threads) : ThreadMapChange()
            case .channels(let parents, let listed):
                let before = threads
                threads = threads.filter { !parents.contains($0.value) }
                count.subtract(before.count - threads.count, ordering: .relaxed)
                for thread in listed { add(thread, to: &threads) }
                return ThreadMapChange(from: before, to: threads)
            case .guildGone:
                let known = !threads.isEmpty
                count.subtract(threads.count, ordering: .relaxed)
                threads.removeAll()
                return unsure || known ? ThreadMapChange(replacesAll: true) : ThreadMapChange()
            case .none:
                return ThreadMapChange()
            }
        }
    }

    /// Adds or updates one thread (an archived one, or one without a parent, is taken out), within
    /// the limit, keeping the count.
    private func add(_ thread: Thread, to threads: inout [UInt64: UInt64]) {
        guard let id = thread.id else { return }
        guard let parent = thread.parent, !thread.archived, parent != id, parent != ThreadMapChange.forgotten else {
            if threads.removeValue(forKey: id) != nil { count.subtract(1, ordering: .relaxed) }
            return
        }
        if threads[id] == nil, count.load(ordering: .relaxed) >= limit {
            overflows.add(1, ordering: .relaxed)
            return
        }
        if threads.updateValue(parent, forKey: id) == nil { count.add(1, ordering: .relaxed) }
    }

    private func stripe(_ guild: GuildID) -> Stripe {
        stripes[Int((guild.rawValue >> 22) % UInt64(stripes.count))]
    }
}
