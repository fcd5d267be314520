import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// How `kamii run` answers SIGTERM and SIGINT. The first asks for a graceful shutdown: the shards
/// close resumably, what they delivered is flushed to Redis and checkpointed to SQL — which waits
/// for Redis (30 s at most) and for SQL (a minute at most) when they are slow or away. A second
/// signal (a second or more after the first) stops at once, the way an operator at a terminal
/// expects a second Ctrl-C to: the waits
/// are cancelled and the process ends — within ``stopDeadlineSeconds`` whatever a service still awaits
/// (a SQL call running to its own timeout), by `exit(1)` if need be. What was not flushed by then
/// is what a `kill -9` would leave: the saved sessions resume from the last flushed dispatch, so
/// Discord replays the rest.
enum ShutdownSignals {
    /// How long a second signal's cancellation may take before the process exits regardless.
    static let stopDeadlineSeconds = 5

    /// The first signal again this soon after it is taken for the same one, delivered twice.
    static let repeatWindow = Duration.seconds(1)

    /// What ended the run.
    enum Outcome: Equatable {
        /// The group ended on its own or after a graceful shutdown.
        case finished
        /// A second signal cut the graceful shutdown short.
        case stoppedAtOnce
    }

    /// Runs `group` until it ends, answering the signals as above. A group's error is rethrown,
    /// except after a second signal (the services' cancellation may surface as one).
    static func run(_ group: ServiceGroup, logger: Logger) async throws -> Outcome {
        // Trapped before the group runs, so a signal sent as it starts is not the default action's.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        return try await withThrowingTaskGroup(of: Outcome?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return .finished
            }
            tasks.addTask {
                var received = signals.makeAsyncIterator()
                guard let first = await received.next() else { return nil }
                let firstAt = ContinuousClock.now
                logger.notice("\(first): shutting down — shards close resumably, their changes are flushed; send it again to stop at once")
                await group.triggerGracefulShutdown()
                var next = await received.next()
                while let repeated = next, repeated == first, ContinuousClock.now - firstAt < repeatWindow {
                    // One Ctrl-C can arrive twice: from the terminal to the process group, and again
                    // from a wrapper in it that passes its own on (`timeout --foreground`, some
                    // supervisors). That must not cut the flush short; another signal still does.
                    logger.notice("\(repeated) again within \(repeatWindow): taken for the same one; send it again to stop at once")
                    next = await received.next()
                }
                guard let second = next else { return nil }
                logger.warning("\(second) again: stopping at once; changes not yet in Redis come back only if a saved session resumes")
                // Off Swift's pool, which a service stuck in a call might hold: the promise of
                // "at once" does not depend on every service honouring cancellation.
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(stopDeadlineSeconds)) {
                    logger.critical("services still running \(stopDeadlineSeconds) s after the stop: exiting")
                    exit(1)
                }
                return .stoppedAtOnce
            }
            var outcome = Outcome.finished
            while true {
                let ended: Outcome??
                do {
                    ended = try await tasks.next()
                } catch where outcome == .stoppedAtOnce {
                    // The services were cancelled, and may say so by throwing: that is the stop asked for.
                    logger.debug("services ended by the stop", metadata: ["error": "\(error)"])
                    continue
                }
                guard let ended else { return outcome }
                switch ended {
                case .finished?:
                    // The group is over: the signal watcher is no longer needed.
                    tasks.cancelAll()
                case .stoppedAtOnce?:
                    outcome = .stoppedAtOnce
                    tasks.cancelAll()
                case nil:
                    break
                }
            }
        }
    }
}
