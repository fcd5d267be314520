public import DiscordModels
import Synchronization

/// A member joined a guild whose level rewards it may be owed again (Discord drops a member's
/// roles when they leave; a member who comes back has their level in Redis still).
public struct MemberJoin: Sendable, Hashable {
    public var guild: GuildID
    public var user: UserID

    public init(guild: GuildID, user: UserID) {
        self.guild = guild
        self.user = user
    }
}

/// The joins guild actors report, for whoever re-grants level rewards. Only guilds with reward
/// roles report them; the newest 10,000 are kept if nobody reads.
///
/// A member who joins pending Membership Screening is reported once they pass it (the member
/// update that says `pending: false`), not before: a role given to a pending member lets them past
/// the screening and the guild's verification level (Discord's guild member docs). They wait here,
/// for any of the process's actors (one may be evicted meanwhile), up to ``screeningWaitMilliseconds``
/// and ``screeningCapacity`` of them (the oldest give way); a restart forgets them.
public final class MemberJoins: Sendable {
    public let stream: AsyncStream<MemberJoin>
    private let continuation: AsyncStream<MemberJoin>.Continuation
    /// Members waiting to pass screening, and when they joined (the wall clock, ms).
    private let screening = Mutex<[MemberJoin: UInt64]>([:])
    /// Whether any member waits: member updates of guilds with rewards look only when one does.
    private let anyScreening = Atomic<Bool>(false)
    private let droppedCount = Atomic<Int>(0)
    static let screeningCapacity = 50_000
    static let screeningWaitMilliseconds: UInt64 = 86_400_000

    public init() {
        (stream, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(10_000))
    }

    func report(_ join: MemberJoin) {
        if case .dropped = continuation.yield(join) { droppedCount.add(1, ordering: .relaxed) }
    }

    /// Joins given up because 10,000 were waiting to be read (counted, not silent: those members
    /// do not get their rewards back until they leave and come back again).
    public var dropped: Int { droppedCount.load(ordering: .relaxed) }

    /// A member joined pending screening, at `now` (wall clock, ms): reported once they pass it.
    func awaitScreening(_ join: MemberJoin, now: UInt64) {
        screening.withLock { waiting in
            if waiting.count >= Self.screeningCapacity {
                // Past the wait first; then, unless that freed a tenth, the oldest tenth at once —
                // one pass per thousands of joins, not per join, in a raid or a steady stream alike.
                waiting = waiting.filter { now < $0.value || now - $0.value < Self.screeningWaitMilliseconds }
                if waiting.count > Self.screeningCapacity - Self.screeningCapacity / 10 {
                    for (join, _) in waiting.sorted(by: { $0.value < $1.value }).prefix(Self.screeningCapacity / 10) {
                        waiting[join] = nil
                    }
                }
            }
            waiting[join] = now
            anyScreening.store(true, ordering: .relaxed)
        }
    }

    /// A member update said the member is not pending: reported if they joined pending within the
    /// wait.
    func passedScreening(_ join: MemberJoin, now: UInt64) {
        guard anyScreening.load(ordering: .relaxed) else { return }
        let joinedAt: UInt64? = screening.withLock { waiting in
            defer { anyScreening.store(!waiting.isEmpty, ordering: .relaxed) }
            return waiting.removeValue(forKey: join)
        }
        guard let joinedAt, now < joinedAt || now - joinedAt < Self.screeningWaitMilliseconds else { return }
        report(join)
    }

    /// Ends the stream (at shutdown, once no guild actor runs).
    public func finish() { continuation.finish() }
}
