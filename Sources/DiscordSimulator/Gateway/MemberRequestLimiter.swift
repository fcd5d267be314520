import NIOCore
import Synchronization

/// Discord's limit on Request Guild Members for a whole guild (`query: ""`, `limit: 0`): once per
/// guild per window (30 s) for the application, across its sessions. A request within the window
/// is answered with a RATE_LIMITED dispatch instead of the members (change log: "Introducing Rate
/// Limit When Requesting All Guild Members").
final class MemberRequestLimiter: Sendable {
    let window: TimeAmount
    private let lastRequest = Mutex<[UInt64: NIODeadline]>([:])

    init(window: TimeAmount) {
        self.window = window
    }

    /// Nil when a whole-guild request for `guild` may go now (and counts it); otherwise how long
    /// until it may.
    func admit(guild: UInt64, now: NIODeadline = .now()) -> TimeAmount? {
        lastRequest.withLock { last in
            if let at = last[guild], now < at + window { return at + window - now }
            // Forget what no longer limits anything, so the table holds at most a window's worth.
            if last.count >= 1_024 { last = last.filter { now < $0.value + window } }
            last[guild] = now
            return nil
        }
    }
}
