/// Discord closes a connection that sends more than 120 payloads in 60 seconds (4008). The shard
/// counts its sends over a sliding window and keeps a few slots for heartbeats, so presence
/// updates or member requests can never crowd out the beat that keeps the session alive.
public struct GatewaySendLimiter: Sendable {
    public let limit: Int
    public let window: Double
    public let reservedForHeartbeats: Int
    /// Send times within the window, oldest first.
    private var sends: [Double] = []

    public init(limit: Int = 120, window: Double = 60, reservedForHeartbeats: Int = 3) {
        precondition(limit > reservedForHeartbeats && reservedForHeartbeats >= 0, "the limit must leave room beyond the reserve")
        self.limit = limit
        self.window = window
        self.reservedForHeartbeats = reservedForHeartbeats
    }

    /// Nil: send now (counted). Otherwise: when to ask again.
    public mutating func admit(isHeartbeat: Bool, now: Double) -> Double? {
        sends.removeFirst(sends.prefix { $0 <= now - window }.count)
        let allowed = isHeartbeat ? limit : limit - reservedForHeartbeats
        guard sends.count < allowed else {
            // The send that must leave the window before this one fits.
            return sends[sends.count - allowed] + window
        }
        sends.append(now)
        return nil
    }
}
