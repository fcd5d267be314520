import NIOCore
import Synchronization

/// Discord's identify rules across every connection of the simulated application: one identify per
/// bucket (`shard_id % max_concurrency`) per window, and a daily session start budget whose
/// exhaustion resets the bot's token.
final class IdentifyLimiter: Sendable {
    enum Verdict: Equatable {
        /// Go ahead: a session starts.
        case allowed
        /// Another shard of the bucket identified within the window: op 9, not resumable.
        case bucketBusy
        /// The token was reset (the budget ran out): close 4004, now and for every later identify.
        case tokenReset
        /// Taken (and counted) but never answered: no READY, no op 9, no close — a gateway node in
        /// trouble (``SimulatorServer/leaveIdentifiesUnanswered(_:)``). Heartbeats are still acknowledged.
        case unanswered
    }

    private struct State {
        var lastIdentify: [Int: NIODeadline] = [:]
        var remaining: Int
        var resetAt: NIODeadline
        var tokenReset = false
        var violations = 0
        var unanswered = 0
    }

    private let configuration: SimulatorConfiguration
    private let state: Mutex<State>

    init(_ configuration: SimulatorConfiguration) {
        self.configuration = configuration
        state = Mutex(State(
            remaining: configuration.sessionStartLimit,
            resetAt: .now() + .milliseconds(Int64(configuration.sessionStartResetMilliseconds))))
    }

    /// Decides an identify of `shard`, counting it against the budget when allowed.
    func identify(shard: Int, now: NIODeadline = .now()) -> Verdict {
        state.withLock { state in
            refill(&state, now: now)
            guard !state.tokenReset else { return .tokenReset }
            guard state.remaining > 0 else {
                state.tokenReset = true
                return .tokenReset
            }
            let bucket = shard % max(1, configuration.maxConcurrency)
            if let last = state.lastIdentify[bucket], now - last < .milliseconds(Int64(configuration.identifyWindowMilliseconds)) {
                state.violations += 1
                return .bucketBusy
            }
            state.lastIdentify[bucket] = now
            state.remaining -= 1
            guard state.unanswered == 0 else {
                state.unanswered -= 1
                return .unanswered
            }
            return .allowed
        }
    }

    /// The next `count` identifies allowed are left unanswered.
    func leaveUnanswered(_ count: Int) {
        state.withLock { $0.unanswered = max(0, count) }
    }

    /// Whether the token still works (REST answers 401 once it was reset).
    var tokenIsValid: Bool { state.withLock { !$0.tokenReset } }

    /// Identifies refused because their bucket was busy.
    var violations: Int { state.withLock { $0.violations } }

    /// Restores the budget once its reset time passed.
    private func refill(_ state: inout State, now: NIODeadline) {
        if now >= state.resetAt {
            state.remaining = configuration.sessionStartLimit
            state.resetAt = now + .milliseconds(Int64(configuration.sessionStartResetMilliseconds))
        }
    }

    /// `session_start_limit` as `GET /gateway/bot` serves it.
    var sessionStartLimitJSON: String {
        state.withLock { state in
            refill(&state, now: .now())
            let resetAfter = max(0, (state.resetAt - .now()).nanoseconds / 1_000_000)
            return #"{"total":\#(configuration.sessionStartLimit),"remaining":\#(state.remaining),"reset_after":\#(resetAfter),"max_concurrency":\#(configuration.maxConcurrency)}"#
        }
    }
}
