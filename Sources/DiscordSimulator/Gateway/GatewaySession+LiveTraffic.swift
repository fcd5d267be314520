import DiscordModels
import NIOCore

/// A session's live traffic: drawn now or ahead, and sent in the order of its `s`.
extension GatewaySession {
    /// What became of the next live event (pending REST dispatches may have been written before it,
    /// whichever it is, unless `channel` is no longer attached).
    enum LiveDispatch {
        /// The next live dispatch was numbered, kept for replay and written.
        case sent
        /// The world's next event was not for this session (its intents do not cover it): not sent.
        case skipped
        /// The session's live traffic is over (`limit` reached, or `channel` no longer attached).
        case finished
    }

    /// The next event of the session's guilds, drawn and — when the session's intents cover it —
    /// numbered and handed to `write` (which compresses it onto the connection's stream) in one
    /// locked step, so dispatches reach the stream in the order of their `s`. One event per call,
    /// sent or not: a session with narrow intents gets fewer dispatches for the same traffic, as on
    /// Discord, and never costs more work than the traffic's rate.
    ///
    /// What REST calls caused and is still pending is numbered and written first, in the same step:
    /// their changes are already in the traffic, so an event drawn after them (a message in a channel
    /// just made, in a thread just unarchived) must not be numbered before them. (They are compressed
    /// under the session's lock, as live events are: a REST call delivering meanwhile waits that long.)
    func nextLiveDispatch(
        limit: Int?, for channel: any Channel, write: (_ name: String, _ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Void
    ) -> LiveDispatch {
        var throughREST: [TrafficFact] = []
        let (result, fact): (LiveDispatch, TrafficFact) = state.withLock { state in
            guard state.connection?.channel === channel else { return (.finished, .none) }
            if !state.pending.isEmpty { throughREST = Self.numberPending(&state, write) }
            if let limit, state.liveDispatches >= limit {
                state.ahead = PrerenderedTraffic()
                return (.finished, .none)
            }
            if !state.ahead.isEmpty { return sendAhead(&state, write) }
            let (event, threads) = Self.drawLive(&state)
            return event.data.withUnsafeBytes { data in
                send(event.name, data, fact: event.fact, sent: sends(event), threads: threads, &state, write)
            }
        }
        // In numbering order: what REST caused was numbered before this event.
        for change in throughREST { observe(change) }
        if fact != .none {
            if case .skipped = result { worldChange(fact) } else { observe(fact) }
        }
        return result
    }

    /// Draws and renders up to `count` more of the session's live events now, to be sent before
    /// any drawn later (``PrerenderedTraffic``: a load run's way to measure serving alone), and
    /// returns how many it drew: fewer once those to be sent would pass `limit` (the live
    /// dispatches the session may send). What each means — for the ground truth, the world's
    /// members and threads — is told as it is sent, as for live ones. What a REST call changes
    /// reaches the events drawn after them, as if these had been in flight; what it caused is
    /// still numbered first.
    @discardableResult
    func prerender(_ count: Int, limit: Int? = nil, for channel: any Channel) -> Int {
        guard count > 0 else { return 0 }
        return state.withLock { state in
            // Not for a session that ended or moved to another connection meanwhile.
            guard !state.ended, state.connection?.channel === channel else { return 0 }
            // Out of the state while it grows (drawing changes the state).
            var ahead = PrerenderedTraffic()
            swap(&ahead, &state.ahead)
            defer { swap(&ahead, &state.ahead) }
            var drawn = 0
            while drawn < count, limit.map({ state.liveDispatches + ahead.sentCount < $0 }) ?? true {
                let (event, threads) = Self.drawLive(&state)
                ahead.append(event, sent: sends(event), threads: threads)
                drawn += 1
            }
            return drawn
        }
    }

    /// Makes room for `count` more events drawn ahead, before ``prerender(_:limit:for:)`` draws them in chunks.
    func reserveAhead(_ count: Int) {
        state.withLock { $0.ahead.reserve(count) }
    }

    /// Live events drawn ahead and not yet taken (those the session does not send included).
    var eventsAhead: Int { state.withLock { $0.ahead.count } }

    /// The next live event of the session's traffic, and its guild's threads when it opened,
    /// archived or deleted one (kept for later sessions once it is sent: ``WorldThreads``).
    private static func drawLive(_ state: inout State) -> (GeneratedEvent, PrerenderedTraffic.ThreadsChange?) {
        let threadChanges = state.traffic.threadChange.count
        let event = state.traffic.nextEvent(into: &state.render)
        guard state.traffic.threadChange.count != threadChanges else { return (event, nil) }
        let index = state.traffic.threadChange.guildIndex
        return (event, (index, state.traffic.threads(ofGuildAt: index)))
    }

    /// Whether the session is sent `event`: one of its shard's guilds, in a channel the bot may
    /// view, and an event its intents cover.
    private func sends(_ event: GeneratedEvent) -> Bool {
        event.botCanView && shardGuilds.contains(event.guild) && (GatewayIntents.required(for: event.name).map(intents.contains) ?? true)
    }

    /// Numbers and writes the oldest event drawn ahead, as ``nextLiveDispatch(limit:for:write:)``
    /// does one drawn now.
    private func sendAhead(
        _ state: inout State, _ write: (_ name: String, _ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Void
    ) -> (LiveDispatch, TrafficFact) {
        // Out of the state while one is taken, so numbering (which changes the state) copies nothing.
        var ahead = PrerenderedTraffic()
        swap(&ahead, &state.ahead)
        defer { swap(&ahead, &state.ahead) }
        let outcome = ahead.takeNext { event, data in
            send(event.name, data, fact: event.fact, sent: event.sent, threads: event.threads, &state, write)
        }
        return outcome ?? (.skipped, .none)
    }

    /// Sends a live event the session drew (now or ahead), if it is the session's to send: the
    /// threads it changed are kept for later sessions, and its fact is handed back for the ground
    /// truth — or, for a join or a leave not sent, for the world, since it happened all the same.
    private func send(
        _ name: String, _ data: UnsafeRawBufferPointer, fact: TrafficFact, sent: Bool, threads: PrerenderedTraffic.ThreadsChange?,
        _ state: inout State, _ write: (_ name: String, _ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Void
    ) -> (LiveDispatch, TrafficFact) {
        if let threads { worldThreads?.update(threads.threads, ofGuildAt: threads.guildIndex) }
        guard sent else { return (.skipped, fact.isMemberChange ? fact : .none) }
        foresee(fact)
        state.liveDispatches += 1
        Self.number(name: name, data: data, &state) { write(name, $0, $1) }
        return (.sent, fact)
    }
}
