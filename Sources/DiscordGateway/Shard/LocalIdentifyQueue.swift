/// Discord's identify rule for the shards of one process: one identify per bucket
/// (`shard_id % max_concurrency`) per window (5 s). A shard holds its bucket from its turn until one
/// window after its identify was written (`identifySent`), plus a margin for the time identifies
/// take to reach Discord. Until it writes, it holds the bucket for two windows: on a loaded machine
/// the write can lag the turn, and a hold that ran out first would let the next shard's identify
/// land in the same window. A shard that never writes frees the bucket after those two windows.
/// Processes that share a bot coordinate through Redis instead (`KamiiShards.RedisIdentifyQueue`,
/// the same rule).
public actor LocalIdentifyQueue: IdentifyGate {
    public let maxConcurrency: Int
    public let window: Duration
    public let margin: Duration
    private var heldUntil: [Int: ContinuousClock.Instant] = [:]

    public init(maxConcurrency: Int = 1, window: Duration = .seconds(5), margin: Duration? = nil) {
        precondition(maxConcurrency > 0, "max_concurrency is at least 1")
        self.maxConcurrency = maxConcurrency
        self.window = window
        self.margin = margin ?? Self.defaultMargin(for: window)
    }

    /// 2 % of the window, at least 50 ms: 100 ms for Discord's 5 s.
    public static func defaultMargin(for window: Duration) -> Duration {
        max(window / 50, .milliseconds(50))
    }

    public func waitForTurn(shard: Int) async throws {
        let bucket = shard % maxConcurrency
        while true {
            let now = ContinuousClock.now
            let free = heldUntil[bucket] ?? now
            if free <= now {
                // Taken now (no suspension between the check and this): nobody else gets the bucket
                // until the identify is written, or a window passes.
                heldUntil[bucket] = now + window * 2 + margin
                return
            }
            // The hold shrinks when the holder's identify is written: look again soon rather than
            // sleeping out the whole hold.
            try await Task.sleep(until: min(free, now + Self.pollInterval(for: window)), clock: .continuous)
        }
    }

    /// How often a waiting shard looks at its bucket again: 1 % of the window, at least 10 ms.
    public static func pollInterval(for window: Duration) -> Duration {
        max(window / 100, .milliseconds(10))
    }

    public func identifySent(shard: Int) {
        heldUntil[shard % maxConcurrency] = .now + window + margin
    }
}
