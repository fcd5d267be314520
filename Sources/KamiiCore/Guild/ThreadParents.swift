public import DiscordGateway
import DiscordModels
import Synchronization

/// The channel each active thread (or forum post) belongs to, so a thread follows its channel's
/// XP rules: a message's `channel_id` is the thread's, and Discord does not say the parent there.
///
/// Learnt from the gateway, in the order the guild's shard delivers it: GUILD_CREATE's `threads`
/// (every active thread the bot can see), THREAD_CREATE and THREAD_UPDATE (an archived thread is
/// forgotten; a message to it unarchives it first, which Discord announces with a THREAD_UPDATE),
/// THREAD_DELETE, and THREAD_LIST_SYNC (threads of channels the bot gains access to). Kept outside
/// the guild actors, which are evicted when idle. Thread IDs are snowflakes, unique across guilds.
public final class ThreadParents: Sendable {
    /// At most this many threads are remembered; past it a new thread is not (its messages follow
    /// the rules set for the thread itself, as before threads were known). About 80 bytes each.
    public let limit: Int
    private let stripes: [Stripe]
    private let count = Atomic<Int>(0)
    private let overflows = Atomic<Int>(0)

    public init(limit: Int = 1_000_000) {
        self.limit = limit
        stripes = (0..<16).map { _ in Stripe() }
    }

    /// The channel `channel` belongs to if it is a known active thread.
    public func parent(of channel: UInt64) -> UInt64? {
        stripe(channel).threads.withLock { $0[channel] }
    }

    /// Threads remembered now.
    public var threadCount: Int { count.load(ordering: .relaxed) }

    /// Threads not remembered because the limit was reached.
    public var overflowCount: Int { overflows.load(ordering: .relaxed) }

    /// Whether ``learn(from:)`` wants this event (the rest pass by without being read).
    public static func reads(_ name: String) -> Bool {
        switch name {
        case "THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE", "THREAD_LIST_SYNC", "GUILD_CREATE": true
        default: false
        }
    }

    /// Updates the map from one dispatch; returns false when its payload is not what Discord
    /// sends (nothing it read before the fault is undone: each thread is a fact of its own).
    @discardableResult
    public func learn(from dispatch: ShardDispatch) -> Bool {
        let name = dispatch.name
        return dispatch.payload.withUnsafeBytes { payload in
            var scanner = JSONScanner(payload, at: dispatch.dataRange.lowerBound)
            do throws(JSONScanError) {
                switch name {
                case "THREAD_CREATE", "THREAD_UPDATE":
                    apply(try Self.thread(&scanner))
                case "THREAD_DELETE":
                    if let id = try Self.thread(&scanner).id { forget(id) }
                case "THREAD_LIST_SYNC", "GUILD_CREATE":
                    try scanner.forEachMember { key, scanner throws(JSONScanError) in
                        guard key == "threads", scanner.peekValueStart() == UInt8(ascii: "[") else {
                            _ = try scanner.skipValue()
                            return
                        }
                        try scanner.forEachElement { scanner throws(JSONScanError) in self.apply(try Self.thread(&scanner)) }
                    }
                default:
                    break
                }
                return true
            } catch {
                return false
            }
        }
    }

    /// What a channel object says about a thread.
    struct Thread {
        var id: UInt64?
        var parent: UInt64?
        var archived = false
    }

    static func thread(_ scanner: inout JSONScanner) throws(JSONScanError) -> Thread {
        var thread = Thread()
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "id" {
                thread.id = try scanner.readSnowflake()
            } else if key == "parent_id" {
                thread.parent = try scanner.readSnowflake()
            } else if key == "thread_metadata", scanner.peekValueStart() == UInt8(ascii: "{") {
                try scanner.forEachMember { key, scanner throws(JSONScanError) in
                    if key == "archived", scanner.peekValueStart() == UInt8(ascii: "t") || scanner.peekValueStart() == UInt8(ascii: "f") {
                        thread.archived = try scanner.readBool()
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

    private func apply(_ thread: Thread) {
        guard let id = thread.id else { return }
        guard let parent = thread.parent, !thread.archived, parent != id else { return forget(id) }
        let added: Bool = stripe(id).threads.withLock { threads in
            if threads[id] != nil {
                threads[id] = parent
                return false
            }
            guard count.load(ordering: .relaxed) < limit else { return false }
            threads[id] = parent
            count.add(1, ordering: .relaxed)
            return true
        }
        if !added, self.parent(of: id) == nil { overflows.add(1, ordering: .relaxed) }
    }

    private func forget(_ id: UInt64) {
        if stripe(id).threads.withLock({ $0.removeValue(forKey: id) }) != nil { count.subtract(1, ordering: .relaxed) }
    }

    private final class Stripe: Sendable {
        let threads = Mutex<[UInt64: UInt64]>([:])
    }

    private func stripe(_ id: UInt64) -> Stripe {
        stripes[Int((id >> 22) % UInt64(stripes.count))]
    }
}
