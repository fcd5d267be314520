/// What the simulator can do to a connection on command — the faults a bot must survive.
public enum SimulatorFault: Sendable, Equatable {
    /// Op 7 Reconnect: the client must reconnect and resume.
    case reconnect
    /// Op 9 Invalid Session; `resumable: false` also ends the session, so the client must identify.
    case invalidSession(resumable: Bool)
    /// Close the TCP connection without a close frame (the session stays resumable).
    case dropConnection
    /// Close with this code (4000–4014 as Discord uses them; the session stays resumable unless
    /// the code says otherwise).
    case close(code: UInt16)
    /// Stop answering heartbeats with op 11, as a zombied connection does.
    case stopHeartbeatACKs
    /// Ask for a heartbeat now (a server-sent op 1); the client must answer at once.
    case requestHeartbeat
    /// A WebSocket ping (not Discord's op 1): the client must answer with a pong carrying the same
    /// bytes (RFC 6455 §5.5.2), and the session goes on.
    case ping
    /// Damage the next compressed message so that it cannot be inflated.
    case corruptNextMessage
    /// Stop reading from the client for this long (a slow server: the client's sends back up).
    case pauseReading(milliseconds: Int)
    /// A newer connection resumed this session: this one is closed.
    case superseded
}
