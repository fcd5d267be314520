import DiscordModels

/// Live events a session drew and rendered before its traffic started, waiting to be sent in the
/// order drawn: with them, sending a dispatch costs numbering, keeping it for replay, compressing
/// and writing it — the served path a load run measures ("pre-encode and compress per
/// connection"), without drawing and rendering in the way. Each event's `d` sits end to end in one
/// buffer, so holding hundreds of thousands costs a few allocations, and sending one none.
struct PrerenderedTraffic: Sendable {
    /// A guild's threads after an event opened, archived or deleted one (for ``WorldThreads``).
    typealias ThreadsChange = (guildIndex: Int, threads: TrafficGenerator.GuildThreads)

    struct Event: Sendable {
        let name: String
        let fact: TrafficFact
        fileprivate(set) var threads: ThreadsChange?
        /// Whether the session sends it (its shard's guild, an event its intents cover). One it
        /// does not send still happened: a join or a leave changes who is a member.
        let sent: Bool
        fileprivate let start: Int
        fileprivate let count: Int
    }

    private var events: [Event] = []
    private var data: [UInt8] = []
    private var next = 0
    /// How many of the events still held are to be sent.
    private(set) var sentCount = 0

    init() {}

    /// How many are still held (those the session does not send included).
    var count: Int { events.count - next }

    var isEmpty: Bool { next == events.count }

    /// Makes room for `count` more events at once: grown by doubling, the buffer of `d`s would be
    /// copied and faulted in again at every step (gigabytes, for millions of events).
    mutating func reserve(_ count: Int) {
        let count = max(0, count)
        events.reserveCapacity(events.count + count)
        data.reserveCapacity(data.count + count * Self.bytesPerEvent)
    }

    /// A live event's `d` is 0.9 KB on average; pages reserved and never written cost no memory.
    private static let bytesPerEvent = 1_024

    /// Keeps an event drawn now, its `d` copied if it is to be sent.
    mutating func append(_ event: GeneratedEvent, sent: Bool, threads: ThreadsChange? = nil) {
        let count = sent ? event.data.count : 0
        events.append(Event(name: event.name, fact: event.fact, threads: threads, sent: sent, start: data.count, count: count))
        if sent {
            data.append(contentsOf: event.data)
            sentCount += 1
        }
    }

    /// Drops the thread lists of a guild that the events still held carry: a REST change made since
    /// they were drawn is newer than any of them.
    mutating func forgetThreads(ofGuildAt guildIndex: Int) {
        for index in next..<events.count where events[index].threads?.guildIndex == guildIndex {
            events[index].threads = nil
        }
    }

    /// Takes the oldest event and hands it, with its `d`, to `use`; nil when none is left. The
    /// last one taken lets go of the buffers.
    mutating func takeNext<Result>(_ use: (Event, UnsafeRawBufferPointer) -> Result) -> Result? {
        guard next < events.count else { return nil }
        let event = events[next]
        next += 1
        if event.sent { sentCount -= 1 }
        let result = data.withUnsafeBytes { use(event, UnsafeRawBufferPointer(rebasing: $0[event.start..<event.start + event.count])) }
        if next == events.count { self = PrerenderedTraffic() }
        return result
    }
}
