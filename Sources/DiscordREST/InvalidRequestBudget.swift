/// Discord bans an IP that sends 10,000 invalid requests (401, 403, 429 other than `shared`) within
/// 10 minutes. The client counts its own over a sliding window and refuses to send once the count
/// reaches a safety margin below that line.
struct InvalidRequestBudget: Sendable {
    let limit: Int
    let window: Double
    /// When each counted answer came, oldest first (at most `limit` of them are kept).
    private var times: [Double] = []
    private var start = 0
    /// Answers counted since the budget began (however long ago).
    private(set) var counted = 0

    init(limit: Int = 8_000, window: Double = 600) {
        self.limit = limit
        self.window = window
    }

    /// Invalid answers within the window at `now`.
    mutating func count(at now: Double) -> Int {
        while start < times.count, times[start] <= now - window { start += 1 }
        if start > 1_024, start * 2 > times.count {
            times.removeFirst(start)
            start = 0
        }
        return times.count - start
    }

    /// Whether a request may still be sent.
    mutating func allows(at now: Double) -> Bool {
        count(at: now) < limit
    }

    mutating func record(status: Int, scope: String?, at now: Double) {
        guard status == 401 || status == 403 || (status == 429 && scope != "shared") else { return }
        times.append(now)
        counted += 1
    }

    /// Counts answers an earlier process got at `earlier` (times on this budget's clock, before
    /// `now`): they stay against the budget until their window ends, as Discord keeps them against
    /// the IP. Those already out of the window are left out; at most `limit` are kept.
    mutating func carryOver(_ earlier: [Double], now: Double) {
        let kept = earlier.filter { $0 > now - window && $0 <= now }.sorted().suffix(limit)
        times = Array(kept) + times[start...]
        start = 0
    }
}
