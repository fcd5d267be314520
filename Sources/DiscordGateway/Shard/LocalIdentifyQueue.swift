/// Discord's identify rule for the shards of one process: one identify per bucket
/// (`shard_id % max_concurrency`) per window (5 s), buckets served in the order they asked.
/// Processes that share a bot coordinate through Redis instead (issue 4's `IdentifyQueue`).
public actor LocalIdentifyQueue: IdentifyGate {
    public let maxConcurrency: Int
    public let window: Duration
    private var nextAllowed: [Int: ContinuousClock.Instant] = [:]

    public init(maxConcurrency: Int = 1, window: Duration = .seconds(5)) {
        precondition(maxConcurrency > 0, "max_concurrency is at least 1")
        self.maxConcurrency = maxConcurrency
        self.window = window
    }

    public func waitForTurn(shard: Int) async throws {
        let bucket = shard % maxConcurrency
        // The slot is taken before sleeping, so two shards of a bucket never share it.
        let now = ContinuousClock.now
        let slot = max(now, nextAllowed[bucket] ?? now)
        nextAllowed[bucket] = slot + window
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
    }
}
