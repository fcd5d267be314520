/// Discord's rate limits as a client must honour them *before* sending, as a state machine: each
/// request asks to go (`acquire`) and is told to proceed or to wait until a given time; each answer
/// (`complete`) teaches the state its bucket, limit, remaining count and reset.
///
/// - Buckets are discovered from `X-RateLimit-Bucket`: until a route's bucket is known, one request
///   of that route is in flight at a time, so a cold start cannot burst into 429s. Once a bucket's
///   limit is known, every major parameter (channel, guild, webhook) of it starts with that limit.
/// - Within a window the state counts its own requests down; an answer can only lower what is left
///   and push the reset later, never the reverse, so late and reordered answers stay safe.
/// - The global limit is a sliding window: no `globalLimit + 1` requests within `globalWindow`
///   (plus a margin for network jitter). Interaction callbacks are exempt, as on Discord.
/// Times are seconds on a monotonic clock.
public struct RateLimitState: Sendable {
    struct Bucket: Sendable {
        var limit: Int
        var remaining: Int
        /// When the current window ends; nil when a new window began and no answer dated it yet.
        var resetAt: Double?
        /// When this window's first request went, so an undated window still ends (an answer that
        /// never came, or came without headers, must not hold the bucket shut for ever).
        var windowStartedAt: Double?
        /// Counts windows, so an answer from an earlier window cannot speak for this one.
        var generation = 0
    }

    /// A request allowed to go, to be handed back to `complete` (or `abandon`).
    public struct Ticket: Sendable {
        let routeKey: String
        let majorParameter: String
        /// This request is the one discovering its route's bucket.
        public let discovering: Bool
        /// The window of its bucket it was counted in.
        let generation: Int
    }

    public enum Decision: Sendable {
        case proceed(Ticket)
        /// A limit holds the request back until then.
        case wait(until: Double)
        /// Another request is discovering the route's bucket: look again then (no limit is known
        /// to hold it back).
        case lookAgain(at: Double)
    }

    /// What an answer's headers said.
    public struct Answer: Sendable {
        public var status: Int
        public var bucket: String?
        public var limit: Int?
        public var remaining: Int?
        public var resetAfter: Double?
        public var retryAfter: Double?
        /// `X-RateLimit-Scope` of a 429: `user`, `global` or `shared`.
        public var scope: String?
        public var isGlobal = false

        public init(
            status: Int, bucket: String? = nil, limit: Int? = nil, remaining: Int? = nil, resetAfter: Double? = nil,
            retryAfter: Double? = nil, scope: String? = nil, isGlobal: Bool = false
        ) {
            self.status = status
            self.bucket = bucket
            self.limit = limit
            self.remaining = remaining
            self.resetAfter = resetAfter
            self.retryAfter = retryAfter
            self.scope = scope
            self.isGlobal = isGlobal
        }
    }

    let globalLimit: Int
    let globalWindow: Double
    /// Added to every reset and retry time: answers are timed on Discord's side, a little before
    /// they reach us, and rounded to milliseconds.
    let margin: Double
    /// How often a request waiting on something only an answer can tell (a bucket being discovered,
    /// a new window not yet dated) looks again.
    let poll: Double

    /// Route key → bucket hash; a route known to have no bucket maps to "".
    private var routeBuckets: [String: String] = [:]
    private var limits: [String: Int] = [:]
    /// The longest `Reset-After` seen per bucket hash: its window, for windows no answer dated.
    private var windows: [String: Double] = [:]
    private var buckets: [String: Bucket] = [:]
    /// Route key → when the request discovering its bucket was sent.
    private var discovering: [String: Double] = [:]
    /// The longest a request waiting on a discovery sleeps between looks.
    static let longestDiscoveryPoll = 0.05
    /// Route + major parameter → held back until, for 429s no bucket could take (a route still
    /// being discovered, a `shared` resource, an exempt route under a global 429).
    private var routeBlocks: [String: Double] = [:]
    /// Send times of the last `globalLimit` counted requests, as a ring.
    private var globalSends: [Double]
    private var globalNext = 0
    private var globalBlockedUntil = 0.0
    /// Buckets and blocks held at which the ended ones are dropped next: twice what the last
    /// sweep kept. A bucket per guild and channel the bot ever called would otherwise stay for good.
    private var sweepAt = RateLimitState.sweepFloor
    static let sweepFloor = 4_096

    /// Buckets and route blocks held now.
    var heldCount: Int { buckets.count + routeBlocks.count }

    /// - Parameter globalLimit: 1…1,000,000 (Discord grants large bots a few thousand); the state
    ///   keeps one send time per allowed request.
    public init(globalLimit: Int = 50, globalWindow: Double = 1, margin: Double = 0.02, poll: Double = 0.002) {
        precondition((1...1_000_000).contains(globalLimit) && globalWindow > 0, "the global limit must be 1…1,000,000 per window")
        self.globalLimit = globalLimit
        self.globalWindow = globalWindow
        self.margin = margin
        self.poll = poll
        globalSends = Array(repeating: -Double.infinity, count: globalLimit)
    }

    public mutating func acquire(_ route: Route, now: Double) -> Decision {
        if !routeBlocks.isEmpty {
            let blockKey = route.key + "|" + route.majorParameter
            if let until = routeBlocks[blockKey] {
                if now < until { return .wait(until: until) }
                routeBlocks[blockKey] = nil
            }
        }
        let countsGlobally = !route.isExemptFromGlobalLimit
        if countsGlobally {
            if now < globalBlockedUntil { return .wait(until: globalBlockedUntil) }
            // The ring holds the last `globalLimit` sends; the oldest must have left the window.
            let oldest = globalSends[globalNext]
            if oldest > now - globalWindow - margin { return .wait(until: oldest + globalWindow + margin) }
        }
        let ticket: Ticket
        if let hash = routeBuckets[route.key] {
            var generation = 0
            if !hash.isEmpty {
                let key = hash + ":" + route.majorParameter
                var bucket = buckets[key] ?? Bucket(limit: limits[hash] ?? 1, remaining: limits[hash] ?? 1, resetAt: nil)
                let window = windows[hash] ?? 1
                if let reset = bucket.resetAt {
                    if now >= reset { bucket.startNewWindow() }
                } else if let started = bucket.windowStartedAt, now >= started + window + margin {
                    bucket.startNewWindow()
                }
                guard bucket.remaining > 0 else {
                    buckets[key] = bucket
                    return .wait(until: bucket.resetAt ?? bucket.windowStartedAt.map { $0 + window + margin } ?? now + poll)
                }
                if bucket.windowStartedAt == nil { bucket.windowStartedAt = now }
                bucket.remaining -= 1
                generation = bucket.generation
                buckets[key] = bucket
                // Swept here too: while no answer comes (the network down), each new guild or
                // channel would add a bucket that only an answer's sweep could drop.
                if buckets.count + routeBlocks.count >= sweepAt { sweep(now: now) }
            }
            ticket = Ticket(routeKey: route.key, majorParameter: route.majorParameter, discovering: false, generation: generation)
        } else {
            if let since = discovering[route.key] {
                // Looks spaced by a quarter of the time the discovery has taken so far (up to 50
                // ms): an answer that comes at once is seen at once, and one Discord holds for
                // the whole deadline does not wake every request of the route 500 times a second.
                return .lookAgain(at: now + min(Self.longestDiscoveryPoll, max(poll, (now - since) / 4)))
            }
            discovering[route.key] = now
            ticket = Ticket(routeKey: route.key, majorParameter: route.majorParameter, discovering: true, generation: 0)
        }
        if countsGlobally {
            globalSends[globalNext] = now
            globalNext = (globalNext + 1) % globalLimit
        }
        return .proceed(ticket)
    }

    /// Learns from an answer to the ticket's request.
    public mutating func complete(_ ticket: Ticket, _ answer: Answer, now: Double) {
        if let hash = answer.bucket { routeBuckets[ticket.routeKey] = hash }
        if ticket.discovering {
            discovering[ticket.routeKey] = nil
            if answer.bucket == nil, answer.status != 429, answer.status < 500 {
                // Answered without a bucket: the route has none.
                routeBuckets[ticket.routeKey] = ""
            }
        }
        let hash = answer.bucket ?? routeBuckets[ticket.routeKey] ?? ""
        if answer.status == 429 {
            let until = now + (answer.retryAfter ?? answer.resetAfter ?? 1) + margin
            if answer.isGlobal || answer.scope == "global" {
                globalBlockedUntil = max(globalBlockedUntil, until)
            }
            // Whatever the bucket does not cover waits per route: never resent at once.
            if answer.isGlobal || answer.scope == "global" || answer.scope == "shared" || hash.isEmpty {
                let blockKey = ticket.routeKey + "|" + ticket.majorParameter
                routeBlocks[blockKey] = max(routeBlocks[blockKey] ?? until, until)
                return
            }
        }
        guard !hash.isEmpty else { return }
        let key = hash + ":" + ticket.majorParameter
        if let limit = answer.limit { limits[hash] = limit }
        if let resetAfter = answer.resetAfter { windows[hash] = max(windows[hash] ?? 0, resetAfter) }
        var bucket = buckets[key] ?? Bucket(limit: answer.limit ?? 1, remaining: answer.limit ?? 1, resetAt: nil)
        if let limit = answer.limit { bucket.limit = limit }
        if answer.status == 429 {
            // Discord says the bucket is spent now, whichever window we thought it was.
            bucket.remaining = 0
            let reset = now + (answer.retryAfter ?? answer.resetAfter ?? 1) + margin
            bucket.resetAt = max(bucket.resetAt ?? reset, reset)
        } else if ticket.generation == bucket.generation, let remaining = answer.remaining, let resetAfter = answer.resetAfter {
            bucket.remaining = min(bucket.remaining, remaining)
            let reset = now + resetAfter + margin
            bucket.resetAt = max(bucket.resetAt ?? reset, reset)
        }
        buckets[key] = bucket
        if buckets.count + routeBlocks.count >= sweepAt { sweep(now: now) }
    }

    /// Drops the buckets whose window has ended (a fresh one, full again, is the same) and the
    /// blocks that have passed.
    private mutating func sweep(now: Double) {
        buckets = buckets.filter { key, bucket in
            if let reset = bucket.resetAt { return now < reset }
            guard let started = bucket.windowStartedAt else { return bucket.remaining < bucket.limit }
            let hash = String(key.prefix { $0 != ":" })
            return now < started + (windows[hash] ?? 1) + margin
        }
        routeBlocks = routeBlocks.filter { now < $0.value }
        sweepAt = max(Self.sweepFloor, 2 * (buckets.count + routeBlocks.count))
    }

    /// The ticket's request never got an answer (the connection failed): let discovery go on. The
    /// bucket's window still ends, timed from its first request.
    public mutating func abandon(_ ticket: Ticket) {
        if ticket.discovering { discovering[ticket.routeKey] = nil }
    }

    /// The bucket hash learnt for a route, if any.
    public func bucket(of route: Route) -> String? {
        routeBuckets[route.key]
    }
}

extension RateLimitState.Bucket {
    mutating func startNewWindow() {
        remaining = limit
        resetAt = nil
        windowStartedAt = nil
        generation += 1
    }
}
