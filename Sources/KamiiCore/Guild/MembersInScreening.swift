import DiscordModels
import Synchronization

/// Members who joined a guild with level rewards pending Membership Screening. Their join is
/// reported (``MemberProfile/restoresRewards``) once they pass it (the member update that says
/// `pending: false`), not before: a role given to a pending member lets them past the screening
/// and the guild's verification level (Discord's guild member docs). They wait here, for any of
/// the process's actors (one may be evicted meanwhile), up to ``screeningWaitMilliseconds`` and
/// ``screeningCapacity`` of them (the oldest give way); a restart forgets them.
public final class MembersInScreening: Sendable {
    /// Members waiting to pass screening, and when they joined (the wall clock, ms).
    private let screening = Mutex<[MemberJoin: UInt64]>([:])
    /// Whether any member waits: member updates of guilds with rewards look only when one does.
    private let anyScreening = Atomic<Bool>(false)
    static let screeningCapacity = 50_000
    static let screeningWaitMilliseconds: UInt64 = 86_400_000

    public init() {}

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

    /// A member update said the member is not pending: whether their join is to be reported now
    /// (they joined pending, within the wait).
    func passedScreening(_ join: MemberJoin, now: UInt64) -> Bool {
        guard anyScreening.load(ordering: .relaxed) else { return false }
        let joinedAt: UInt64? = screening.withLock { waiting in
            defer { anyScreening.store(!waiting.isEmpty, ordering: .relaxed) }
            return waiting.removeValue(forKey: join)
        }
        guard let joinedAt else { return false }
        return now < joinedAt || now - joinedAt < Self.screeningWaitMilliseconds
    }
}
