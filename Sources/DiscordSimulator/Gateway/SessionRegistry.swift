import NIOCore
import Synchronization

/// The live sessions of a simulator, by session ID.
final class SessionRegistry: Sendable {
    private let sessions = Mutex<[String: GatewaySession]>([:])
    /// Held by a REST call while it changes the world and delivers what it caused, and by a new
    /// session while it adopts the world's state and registers (``inChangeOrder(_:)``).
    private let changeOrder = Mutex(())

    /// Runs `body` with no REST change and no session start running meanwhile: a change is either
    /// in what a starting session adopted or delivered to it once registered — never neither.
    func inChangeOrder<Result: Sendable, Failure: Error>(_ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        try changeOrder.withLock { _ throws(Failure) in try body() }
    }

    func register(_ session: GatewaySession) {
        sessions.withLock { state in
            Self.prune(&state, now: .now())
            state[session.id] = session
        }
    }

    /// Lets go of the sessions that can never be resumed again: those ended, and those left
    /// unconnected past their resume window (each holds its traffic's caches and its replay).
    func pruneExpired(now: NIODeadline = .now()) {
        sessions.withLock { Self.prune(&$0, now: now) }
    }

    private static func prune(_ state: inout [String: GatewaySession], now: NIODeadline) {
        state = state.filter { !$0.value.endIfExpired(now: now) }
    }

    /// How many sessions are held: connected, or resumable.
    var count: Int { sessions.withLock { $0.count } }

    func session(_ id: String) -> GatewaySession? {
        sessions.withLock { $0[id] }
    }

    var all: [GatewaySession] { sessions.withLock { Array($0.values) } }
}
