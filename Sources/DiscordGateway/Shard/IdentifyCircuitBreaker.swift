/// Stops a shard that keeps identifying: each identify spends one of the bot's daily session
/// starts, and a shard whose sessions keep dying (a bad intent, a proxy cutting connections) would
/// otherwise spend them all and get the token reset.
public struct IdentifyCircuitBreaker: Sendable {
    /// At most `count` identifies within `period`.
    public struct Limit: Sendable, Equatable {
        public var count: Int
        public var period: Duration

        public init(count: Int = 6, period: Duration = .seconds(600)) {
            precondition(count > 0, "a shard must be allowed to identify")
            self.count = count
            self.period = period
        }
    }

    public let limit: Limit
    private var recent: [ContinuousClock.Instant] = []

    public init(limit: Limit) {
        self.limit = limit
    }

    /// Whether another identify at `now` stays within the limit.
    public mutating func allows(at now: ContinuousClock.Instant) -> Bool {
        recent.removeAll { now - $0 >= limit.period }
        return recent.count < limit.count
    }

    public mutating func record(at now: ContinuousClock.Instant) {
        recent.append(now)
    }
}
