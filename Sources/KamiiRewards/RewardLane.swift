import DiscordModels
import KamiiCore
import KamiiStats
import Synchronization

/// What a lane of the rewarder carries.
enum RewardWork: Sendable {
    case levelUp(LevelUp)
    case join(MemberJoin)
    /// Try again the level-ups and returning members' joins waiting in the guild (read from Redis
    /// when the lane gets to it, so they come in the lane's order).
    case retry(GuildID)

    var guild: GuildID {
        switch self {
        case .levelUp(let levelUp): levelUp.guild
        case .join(let join): join.guild
        case .retry(let guild): guild
        }
    }

    /// The lane of `queues` that carries the guild's work: always the same one.
    func lane(in queues: [RewardLane]) -> RewardLane {
        queues[Int((guild.rawValue >> 22) % UInt64(queues.count))]
    }
}

/// One lane's queue: bounded, and read a batch at a time — everything queued so far — so the
/// rewarder can merge a member's level-ups and announce several members in one message when
/// Discord is slower than members level up.
final class RewardLane: Sendable {
    private struct State {
        var queued: [RewardWork] = []
        var waiter: CheckedContinuation<[RewardWork]?, Never>?
        var finished = false
    }

    let capacity: Int
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// Queues `work`; false when the lane is full (or finished).
    func push(_ work: RewardWork) -> Bool {
        let (accepted, waiter) = state.withLock { state -> (Bool, CheckedContinuation<[RewardWork]?, Never>?) in
            guard !state.finished, state.queued.count < capacity else { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            state.queued.append(work)
            return (true, nil)
        }
        waiter?.resume(returning: [work])
        return accepted
    }

    /// No more work comes; ``next()`` returns nil once the queue is empty.
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<[RewardWork]?, Never>? in
            state.finished = true
            defer { state.waiter = nil }
            return state.queued.isEmpty ? state.waiter : nil
        }
        waiter?.resume(returning: nil)
    }

    /// Everything queued, in order, waiting for some if there is none; nil once finished and empty.
    /// One reader only.
    func next() async -> [RewardWork]? {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> [RewardWork]?? in
                if !state.queued.isEmpty {
                    defer { state.queued.removeAll(keepingCapacity: true) }
                    return .some(state.queued)
                }
                if state.finished { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
