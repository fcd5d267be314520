/// What a shard does, decided without a socket or a clock: the connection tells it what happened,
/// it answers with what to do. Every rule of Discord's gateway lifecycle lives here, so each is
/// tested at exact instants with given randomness.
///
/// - Hello → the first heartbeat after `interval × jitter` (jitter in [0, 1)), then every interval.
/// - A heartbeat falls due while the last one is unacknowledged → the connection is a zombie:
///   close it with a resumable code and resume.
/// - Op 1 → heartbeat at once. Op 7 → reconnect and resume. Op 9 `true` → resume; `false` →
///   forget the session and identify again when the identify queue allows.
/// - Close codes 4004, 4010–4014 are fatal: the shard stops with an actionable reason, no retry.
///   4007 and 4009 → new session. Anything else → resume if there is a session — unless
///   ``fruitlessResumeLimit`` resumes in a row ended with neither RESUMED nor a replayed dispatch
///   (a session Discord invalidated closes a resume with 4003, 4000 or no code at all): then
///   identify, as Discord asks when "the reconnect fails".
/// - A READY without a `session_id` is a broken stream: close and identify again.
/// - An identify or a resume sent and answered by nothing (no READY, RESUMED or replayed
///   dispatch) by the ``unansweredBeatLimit``th heartbeat after it → close and make the
///   connection again (resuming when it was a resume).
/// - Reconnects back off exponentially with jitter, capped. The backoff resets once a session
///   has proved healthy — READY or RESUMED, then heartbeats acknowledged for
///   ``stableSessionSeconds`` — not at READY or RESUMED alone: a gateway that resumes and then
///   drops every connection would otherwise be reconnected to without pause.
public struct ShardStateMachine: Sendable {
    public enum Action: Sendable, Equatable {
        /// Open a connection to `url` after `delay` seconds.
        case connect(url: String, delay: Double)
        /// Ask the identify queue for a slot, then call `identifyAllowed`.
        case requestIdentify
        case sendIdentify
        case sendResume(sessionID: String, sequence: Int)
        case sendHeartbeat(sequence: Int?)
        /// Call `heartbeatDue` after this many seconds (replaces any earlier schedule).
        case scheduleHeartbeat(delay: Double)
        /// Close the connection with this code (never 1000/1001 when the session should survive).
        case close(code: UInt16)
        /// Hand the dispatch to the consumer.
        case deliver
        /// Stop for good.
        case stop(StopReason)
    }

    enum State: Sendable, Equatable {
        case idle
        case connecting
        case awaitingHello
        case identifying
        case resuming
        case ready
        /// The connection is being closed by us; what follows is a reconnect.
        case closing
        case stopped
    }

    public let gatewayURL: String
    private(set) var state = State.idle
    public private(set) var sessionID: String?
    public private(set) var resumeURL: String?
    public private(set) var sequence: Int?
    private var heartbeatInterval: Double?
    private var awaitingAck = false
    private var lastRequestedBeat: Double?
    private var backoff: ReconnectBackoff
    /// Heartbeat intervals acknowledged since this connection's READY or RESUMED.
    private var healthySeconds = 0.0
    private var unreachableResumes = 0
    /// The main gateway failed too while the resume URL was being given up on: the network, not
    /// the URL, so a stable session sends the next resume to the resume URL again.
    private var gatewayAlsoUnreachable = false
    /// Whether the next connection should resume (otherwise it identifies).
    private var resumeNext = false
    /// Where the stream last broke (the sequence then) and how many times in a row it broke there.
    private var brokenAt: (sequence: Int?, times: Int)?
    /// Sessions given up because the same message could never be read (``streamBroken()``).
    public private(set) var sessionsAbandoned = 0
    /// Breaks at one point of a session before the session is given up.
    static let brokenStreamLimit = 3
    /// The sequence this connection's resume was sent at; nil when it sent none, or the resume
    /// went through (RESUMED).
    private var resumedFrom: Int?
    /// Resumes in a row that ended with neither RESUMED nor a dispatch replayed.
    private var fruitlessResumes = 0
    /// Sessions given up because they would not resume (``fruitlessResumeLimit``).
    public private(set) var sessionsUnresumable = 0
    /// Resumes in a row that come to nothing before the session is given up: the session is
    /// saved while it is kept, so a restarted process would otherwise resume it for ever too.
    static let fruitlessResumeLimit = 3
    /// Heartbeats that fell due since this connection's identify or resume went out with nothing
    /// back — no READY, RESUMED or replayed dispatch; nil while none is awaited (a shard waiting
    /// for its identify turn awaits nothing yet).
    private var unansweredBeats: Int?
    /// Heartbeats an identify or a resume may go unanswered (Discord answers within a second or
    /// two) before the connection is taken for stuck and made again: 41–83 s at Discord's interval.
    /// Without it a gateway that acknowledges heartbeats but never answers would hold the shard for
    /// ever, its guilds unserved.
    static let unansweredBeatLimit = 2
    /// Connections made again because their identify or resume went unanswered.
    public private(set) var handshakesUnanswered = 0

    public init(gatewayURL: String, backoffBase: Double = 1, backoffCap: Double = 60) {
        self.gatewayURL = gatewayURL
        backoff = ReconnectBackoff(base: backoffBase, cap: backoffCap)
    }

    /// Starts with a session saved by an earlier process (restart-safe resume).
    public init(
        gatewayURL: String, resuming sessionID: String, sequence: Int, resumeURL: String, backoffBase: Double = 1,
        backoffCap: Double = 60
    ) {
        self.init(gatewayURL: gatewayURL, backoffBase: backoffBase, backoffCap: backoffCap)
        self.sessionID = sessionID
        self.sequence = sequence
        self.resumeURL = resumeURL
        resumeNext = true
    }

    public var isStopped: Bool { state == .stopped }
    public var isReady: Bool { state == .ready }

    public mutating func start() -> [Action] {
        guard state == .idle else { return [] }
        state = .connecting
        return [connect(delay: 0)]
    }

    /// Whether the connection is open and Hello has not come yet.
    public var isAwaitingHello: Bool { state == .awaitingHello }

    public mutating func connected() -> [Action] {
        guard state == .connecting else { return [] }
        state = .awaitingHello
        waitsBeforeFreshIdentify = false
        healthySeconds = 0
        unansweredBeats = nil
        // A new connection's op 1 is answered whatever the last one's was.
        lastRequestedBeat = nil
        return []
    }

    /// The longest heartbeat interval a Hello may ask for (Discord's is 41,250 ms): one longer is
    /// not a gateway's, and the shard reconnects.
    public static let heartbeatIntervalLimitMilliseconds = 3_600_000

    /// Hello: heartbeats start, then resume or identify.
    public mutating func hello(intervalMilliseconds: Int, jitter: Double) -> [Action] {
        guard state == .awaitingHello else { return [] }
        // Held within reason whatever the Hello said: a delay past Int64 nanoseconds would trap.
        let interval = Double(min(max(intervalMilliseconds, 1), Self.heartbeatIntervalLimitMilliseconds)) / 1_000
        heartbeatInterval = interval
        awaitingAck = false
        let first = Action.scheduleHeartbeat(delay: interval * min(max(jitter, 0), 0.999_999))
        // The resume URL answered after all: later resumes go back to it.
        if connectedTo == resumeURL { (unreachableResumes, gatewayAlsoUnreachable) = (0, false) }
        if resumeNext, let sessionID, let sequence {
            state = .resuming
            resumedFrom = sequence
            unansweredBeats = 0
            return [first, .sendResume(sessionID: sessionID, sequence: sequence)]
        }
        state = .identifying
        return [first, .requestIdentify]
    }

    /// The identify queue gave this shard its slot.
    public mutating func identifyAllowed() -> [Action] {
        guard state == .identifying else { return [] }
        unansweredBeats = 0
        return [.sendIdentify]
    }

    /// A dispatch (op 0) with its `s` and `t`; READY carries the session and resume URL.
    public mutating func dispatch(name: String, sequence: Int?, sessionID: String? = nil, resumeURL: String? = nil) -> [Action] {
        guard state == .identifying || state == .resuming || state == .ready else { return [] }
        if let sequence { self.sequence = max(self.sequence ?? 0, sequence) }
        // A replayed dispatch: the resume is getting somewhere.
        if unansweredBeats != nil { unansweredBeats = 0 }
        if name == "READY" {
            guard let sessionID, !sessionID.isEmpty else {
                // Nothing to resume with: every later drop would cost an identify. Not Discord's.
                forgetSession()
                return closeAndReconnect(resume: false)
            }
            self.sessionID = sessionID
            self.resumeURL = resumeURL
            (unreachableResumes, gatewayAlsoUnreachable) = (0, false)
            ready()
        } else if name == "RESUMED" {
            ready()
        }
        return Self.deliverOnly
    }

    /// Shared, so a dispatch (the common case, thousands a second) allocates no array.
    private static let deliverOnly: [Action] = [.deliver]

    private mutating func ready() {
        state = .ready
        resumeNext = false
        resumedFrom = nil
        fruitlessResumes = 0
        unansweredBeats = nil
    }

    /// How long a READY or RESUMED session must keep its heartbeats acknowledged before the
    /// reconnect backoff starts again from nothing (Discord's interval is 41.25 s: the first ACK).
    public static let stableSessionSeconds = 30.0

    /// - Parameter readingHeldBack: the consumer holds the frame loop (a full stats buffer), so an
    ///   ACK may be waiting unread: the beat goes out (Discord keeps the session while beats come)
    ///   and the connection is judged once reading resumes.
    public mutating func heartbeatDue(readingHeldBack: Bool = false) -> [Action] {
        guard let interval = heartbeatInterval, [.identifying, .resuming, .ready].contains(state) else { return [] }
        if awaitingAck, !readingHeldBack {
            // No ACK since the last beat: a zombie. Close resumably and resume elsewhere.
            return closeAndReconnect(resume: true)
        }
        // Not while the consumer holds the frame loop: READY, RESUMED or the replay may be there,
        // unread (judged once reading resumes, as the zombie rule is).
        if let beats = unansweredBeats, !readingHeldBack, state == .identifying || state == .resuming {
            unansweredBeats = beats + 1
            if beats + 1 >= Self.unansweredBeatLimit {
                unansweredBeats = nil
                handshakesUnanswered += 1
                return closeAndReconnect(resume: state == .resuming)
            }
        }
        awaitingAck = true
        return [.sendHeartbeat(sequence: sequence), .scheduleHeartbeat(delay: interval)]
    }

    public mutating func heartbeatAcknowledged() -> [Action] {
        if state == .ready, awaitingAck, let heartbeatInterval {
            healthySeconds += heartbeatInterval
            if healthySeconds >= Self.stableSessionSeconds {
                backoff.reset()
                // A network that failed for a while (the main gateway too) is back: the next resume
                // tries the resume URL again (Discord disconnects sessions that do not resume there
                // sooner). A resume URL that alone failed stays given up on.
                if gatewayAlsoUnreachable { (unreachableResumes, gatewayAlsoUnreachable) = (0, false) }
            }
        }
        awaitingAck = false
        return []
    }

    /// Op 1: Discord wants a heartbeat now. One asked for within ``requestedBeatSpacing`` of the
    /// last answered is not answered again: that beat already said the shard lives, and a flood of
    /// op 1 answered one by one would spend the 120 sends a minute and then hold the frame loop
    /// waiting for the limit (`now`: seconds on any steady clock).
    public mutating func heartbeatRequested(now: Double) -> [Action] {
        guard [.identifying, .resuming, .ready].contains(state) else { return [] }
        if let last = lastRequestedBeat, now - last < Self.requestedBeatSpacing, now >= last { return [] }
        lastRequestedBeat = now
        return [.sendHeartbeat(sequence: sequence)]
    }

    /// The least time between two op 1 answered (Discord asks rarely: a reconnect or a check).
    public static let requestedBeatSpacing = 5.0

    /// A message could not be read (corrupt compression or JSON, past a limit): the connection is
    /// dropped and the session resumed, which replays from the same point. Breaking there
    /// ``brokenStreamLimit`` times in a row means a message that will never be read: the session
    /// is given up, and the next connection identifies (a new session does not replay it).
    public mutating func streamBroken() {
        let times = brokenAt.map { $0.sequence == sequence ? $0.times + 1 : 1 } ?? 1
        brokenAt = (sequence, times)
        if times >= Self.brokenStreamLimit, sessionID != nil {
            forgetSession()
            brokenAt = nil
            sessionsAbandoned += 1
        }
    }

    /// Op 7 — which "can occur at any point … even before/in place of receiving a Hello".
    public mutating func reconnectRequested() -> [Action] {
        guard [.awaitingHello, .identifying, .resuming, .ready].contains(state) else { return [] }
        // Discord moving the connection (a node draining) says nothing of the resume it cut short:
        // not counted as one that came to nothing — but one that replayed something before it was
        // getting somewhere, and starts the count again, as a close would.
        if let from = resumedFrom, sequence != from { fruitlessResumes = 0 }
        resumedFrom = nil
        return closeAndReconnect(resume: true)
    }

    /// Op 9. Not resumable: a fresh identify after a random 1–5 s, as Discord asks (the identify
    /// gate spaces a bucket's identifies, not one shard's right after its session was refused).
    public mutating func invalidSession(resumable: Bool) -> [Action] {
        guard [.awaitingHello, .identifying, .resuming, .ready].contains(state) else { return [] }
        if !resumable {
            forgetSession()
            waitsBeforeFreshIdentify = true
        }
        return closeAndReconnect(resume: resumable)
    }

    /// Set by a non-resumable op 9 until the next connection opens.
    private var waitsBeforeFreshIdentify = false

    /// The wait before the next connection: the backoff, and after a non-resumable op 9 at least
    /// 1–5 s (`jitter` in [0, 1) picks where).
    private func reconnectDelay(jitter: Double) -> Double {
        let delay = backoff.delay(jitter: jitter)
        guard waitsBeforeFreshIdentify else { return delay }
        return max(delay, 1 + 4 * min(max(jitter, 0), 0.999_999))
    }

    /// The connection closed (by Discord with `code`, or without a close frame: nil), or could
    /// not be opened.
    public mutating func closed(code: UInt16?) -> [Action] {
        guard state != .stopped, state != .idle else { return [] }
        if let code, let fatal = Self.fatalReason(code) {
            state = .stopped
            return [.stop(.closed(code: code, reason: fatal))]
        }
        if resumeNext, state == .connecting || state == .awaitingHello, let resumeURL, connectedTo == resumeURL, resumeURL != gatewayURL {
            // The resume URL did not even say Hello (a restarted process may hold a URL that is
            // gone): after a few tries, resume through the main gateway instead. Only the resume
            // URL's own failures count: the main gateway failing too is the network.
            unreachableResumes += 1
        } else if resumeNext, state == .connecting || state == .awaitingHello, connectedTo == gatewayURL, unreachableResumes > 0 {
            gatewayAlsoUnreachable = true
        }
        // The session is gone (an invalid sequence, a timed-out session): a new one, even when the
        // code answers a close of ours.
        if code == 4007 || code == 4009 { forgetSession() }
        if let from = resumedFrom {
            // A resume that replayed something is getting somewhere (a long replay cut short).
            fruitlessResumes = sequence == from ? fruitlessResumes + 1 : 0
            resumedFrom = nil
            if fruitlessResumes >= Self.fruitlessResumeLimit, sessionID != nil {
                forgetSession()
                sessionsUnresumable += 1
            }
        }
        if state != .closing {
            // Closed by the other side: resume unless the code says the session is gone.
            resumeNext = sessionID != nil
        }
        backoff.failed()
        state = .connecting
        return [connect(delay: reconnectDelay(jitter: 0.5))]
    }

    /// Stops the shard; the connection closes with a resumable code so a restarted process can
    /// resume the session.
    public mutating func shutdown() -> [Action] {
        guard state != .stopped else { return [] }
        let wasConnected = state != .idle && state != .connecting
        state = .stopped
        return (wasConnected ? [.close(code: 4000)] : []) + [.stop(.shutdown)]
    }

    /// The jitter of the next backoff, given so tests are exact; the connection passes a random one.
    public mutating func closed(code: UInt16?, jitter: Double) -> [Action] {
        var actions = closed(code: code)
        if case .connect(let url, _)? = actions.last, backoff.failures > 0 {
            actions[actions.count - 1] = .connect(url: url, delay: reconnectDelay(jitter: jitter))
        }
        return actions
    }

    private mutating func closeAndReconnect(resume: Bool) -> [Action] {
        state = .closing
        resumeNext = resume && sessionID != nil
        // 4000 (not 1000/1001): Discord keeps the session for a resume.
        return [.close(code: 4000)]
    }

    private mutating func forgetSession() {
        brokenAt = nil
        fruitlessResumes = 0
        sessionID = nil
        sequence = nil
        resumeURL = nil
        resumeNext = false
    }

    private var connectURL: String {
        guard resumeNext, unreachableResumes < Self.resumeURLAttempts else { return gatewayURL }
        return resumeURL ?? gatewayURL
    }

    /// Where the current connection goes: the URL of the last `connect` action.
    private var connectedTo: String?

    /// A `connect` action, remembering where it goes.
    private mutating func connect(delay: Double) -> Action {
        connectedTo = connectURL
        return .connect(url: connectURL, delay: delay)
    }

    /// Connections to a resume URL that never reached Hello before the main gateway is tried.
    static let resumeURLAttempts = 3
}
