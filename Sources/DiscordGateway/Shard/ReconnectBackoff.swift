/// How long a shard waits before its next connection: no wait for the first reconnect after a
/// session-level event, then base × 2^(n-1) for the n-th failure in a row, capped, scaled by a
/// jitter in [0.5, 1.5). Reset once a session has proved healthy (``ShardStateMachine``).
struct ReconnectBackoff: Sendable {
    let base: Double
    let cap: Double
    /// Connections in a row that ended without a healthy session.
    private(set) var failures = 0

    init(base: Double, cap: Double) {
        self.base = base
        self.cap = cap
    }

    mutating func failed() { failures += 1 }

    mutating func reset() { failures = 0 }

    /// The wait before the next connection (`jitter` in [0, 1)).
    func delay(jitter: Double) -> Double {
        guard failures > 1 else { return 0 }
        let delay = min(cap, base * Double(1 << min(failures - 2, 16)))
        return delay * (0.5 + min(max(jitter, 0), 0.999_999))
    }
}
