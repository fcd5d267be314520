import DiscordModels
import NIOCore
import Synchronization

/// A gateway session, which outlives its connection: its identity, its sequence, the dispatches a
/// resume may replay, and the traffic it is owed. Connections on any event loop use it, so its
/// state sits behind a lock.
final class GatewaySession: Sendable {
    let id: String
    let intents: GatewayIntents
    let shard: [Int]
    let shardGuilds: Set<GuildID>
    /// How long the session can be resumed once it has no connection.
    let resumeWindow: TimeAmount

    /// What changes, behind ``state``'s lock (internal, not private, for the live traffic's
    /// extension in GatewaySession+LiveTraffic.swift).
    struct State {
        var sequence = 0
        /// The latest dispatches, for a resume: a resume from further back is refused.
        var replay = ReplayLog()
        var traffic: TrafficGenerator
        /// Where live events are rendered, reused from one to the next.
        var render = JSONBytes(capacity: 8_192)
        var liveDispatches = 0
        var ended = false
        var connection: Connection?
        /// When the session lost its connection (nil while it has one).
        var detachedAt: NIODeadline?
        /// What REST calls caused and the session is still to send (MESSAGE_CREATE of the bot's
        /// messages, GUILD_MEMBER_REMOVE after a kick…), ahead of live traffic.
        var pending: [(name: String, data: [UInt8], fact: TrafficFact)] = []
        /// Live events drawn ahead (``prerender(_:limit:for:)``), sent before any drawn later.
        var ahead = PrerenderedTraffic()
    }

    /// The connection a session is attached to: its channel, and its handler (reachable only on
    /// the channel's event loop).
    struct Connection: Sendable {
        let channel: any Channel
        let handler: NIOLoopBound<GatewaySessionHandler>

        /// Applies a fault on the connection's event loop.
        func inject(_ fault: SimulatorFault) {
            channel.eventLoop.execute { handler.value.inject(fault) }
        }

        /// Has the connection send what is pending.
        func sendPending() {
            channel.eventLoop.execute { handler.value.sendPending() }
        }
    }

    let state: Mutex<State>
    /// Told about every dispatch as it is numbered (the ground truth, the interaction registry).
    let observe: @Sendable (TrafficFact) -> Void
    /// Told about each live dispatch's fact just before it is numbered and compressed, so the ground
    /// truth can start loading what ``observe`` will update.
    let foresee: @Sendable (TrafficFact) -> Void
    /// Where the threads the traffic opens, archives and deletes are kept for later sessions.
    let worldThreads: WorldThreads?
    /// Told about joins and leaves the session's intents kept it from sending: they happened all the
    /// same (the guilds' membership), though the bot never saw them (not the ground truth).
    let worldChange: @Sendable (TrafficFact) -> Void

    init(
        id: String, intents: GatewayIntents, shard: [Int], guilds: [GuildID], traffic: TrafficGenerator,
        resumeWindow: TimeAmount = .minutes(2), worldThreads: WorldThreads? = nil,
        worldChange: @escaping @Sendable (TrafficFact) -> Void = { _ in }, foresee: @escaping @Sendable (TrafficFact) -> Void = { _ in },
        observe: @escaping @Sendable (TrafficFact) -> Void
    ) {
        self.foresee = foresee
        self.worldThreads = worldThreads
        self.worldChange = worldChange
        self.id = id
        self.intents = intents
        self.shard = shard
        self.resumeWindow = resumeWindow
        shardGuilds = Set(guilds)
        state = Mutex(State(traffic: traffic))
        self.observe = observe
    }

    /// The last `s` sent.
    var lastSequence: Int { state.withLock { $0.sequence } }

    /// Whether the session can no longer be resumed (the client closed it with 1000/1001).
    var isEnded: Bool { state.withLock { $0.ended } }

    /// Ends the session if it has been without a connection for longer than its resume window,
    /// and says whether it has ended (for whatever reason).
    func endIfExpired(now: NIODeadline = .now()) -> Bool {
        state.withLock { state in
            expireIfDue(&state, now: now)
            return state.ended
        }
    }

    private func expireIfDue(_ state: inout State, now: NIODeadline) {
        if !state.ended, let detachedAt = state.detachedAt, now - detachedAt > resumeWindow { Self.end(&state) }
    }

    /// Ends the session for good and lets go of what a resume would have needed.
    func end() {
        state.withLock { Self.end(&$0) }
    }

    private static func end(_ state: inout State) {
        state.ended = true
        state.replay.removeAll()
        state.pending = []
        state.ahead = PrerenderedTraffic()
        state.connection = nil
    }

    /// Forgets `channel` as the session's connection once it closed, so a closed connection is
    /// neither kept alive nor targeted by faults.
    func detach(_ channel: any Channel) {
        state.withLock { state in
            if state.connection?.channel === channel {
                state.connection = nil
                state.detachedAt = .now()
            }
        }
    }

    /// Whether `channel` is the session's current connection.
    func isAttached(_ channel: any Channel) -> Bool {
        state.withLock { $0.connection?.channel === channel }
    }

    /// What a resume found.
    enum ResumeOutcome {
        /// `missed` is what the client missed, `replaced` the connection the resume took over,
        /// `away` how long the session had no connection (zero when the resume replaced one).
        case resumed(missed: [[UInt8]], replaced: Connection?, away: TimeAmount)
        /// The session has ended (or expired): op 9 `false`.
        case ended
        /// The sequence is ahead of the session's or older than what it keeps: close 4007.
        case invalidSequence
    }

    /// A resume, in one step: checks the session can resume from `sequence` and, if it can, makes
    /// `connection` its connection and returns what the client missed.
    func resume(after sequence: Int, attaching connection: Connection) -> ResumeOutcome {
        state.withLock { state in
            let now = NIODeadline.now()
            expireIfDue(&state, now: now)
            guard !state.ended else { return .ended }
            guard sequence <= state.sequence, sequence >= (state.replay.oldestSequence ?? 1) - 1 else {
                return .invalidSequence
            }
            let replaced = state.connection.flatMap { $0.channel === connection.channel ? nil : $0 }
            let away = state.detachedAt.map { now - $0 } ?? .zero
            state.connection = connection
            state.detachedAt = nil
            return .resumed(missed: state.replay.payloads(after: sequence), replaced: replaced, away: away)
        }
    }

    /// Makes `connection` the session's first connection (a resume attaches through `resume`).
    func attach(_ connection: Connection) {
        state.withLock { state in
            state.connection = connection
            state.detachedAt = nil
        }
    }

    /// The session's current connection.
    var connection: Connection? { state.withLock { $0.connection } }

    /// Numbers a dispatch, keeps it for replay and returns its payload — if `channel` is still the
    /// session's connection. A connection that was superseded by a resume gets nil, so nothing is
    /// numbered on a socket the client has left (it would never be replayed).
    func dispatch(name: String, data: [UInt8], fact: TrafficFact = .none, from channel: any Channel) -> (sequence: Int, payload: [UInt8])? {
        let numbered: (sequence: Int, payload: [UInt8])? = state.withLock { state in
            guard state.connection?.channel === channel else { return nil }
            return Self.number(name: name, data: data, &state)
        }
        if numbered != nil, fact != .none { observe(fact) }
        return numbered
    }

    /// Numbers several dispatches in one step (READY and the GUILD_CREATE burst), so a resume on
    /// another connection cannot fall between them and leave some unnumbered, never to be replayed.
    func dispatch(batch: [(name: String, data: [UInt8])], from channel: any Channel) -> [(sequence: Int, payload: [UInt8])] {
        state.withLock { state in
            guard state.connection?.channel === channel else { return [] }
            return batch.map { Self.number(name: $0.name, data: $0.data, &state) }
        }
    }

    static func number(name: String, data: [UInt8], _ state: inout State) -> (sequence: Int, payload: [UInt8]) {
        number(name: name, data: data, &state) { sequence, payload in (sequence, Array(payload)) }
    }

    static func number<Result>(
        name: String, data: [UInt8], _ state: inout State, use: (_ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Result
    ) -> Result {
        data.withUnsafeBytes { number(name: name, data: $0, &state, use: use) }
    }

    /// Numbers a dispatch, keeps it for replay and hands its sequence and payload, where it is
    /// kept, to `use`.
    static func number<Result>(
        name: String, data: UnsafeRawBufferPointer, _ state: inout State, use: (_ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Result
    ) -> Result {
        state.sequence += 1
        let sequence = state.sequence
        return state.replay.append(
            sequence: sequence, atMost: TrafficGenerator.payloadBound(name: name, dataCount: data.count),
            write: { TrafficGenerator.appendPayload(name: name, data: data, sequence: sequence, to: &$0) },
            use: { use(sequence, $0) })
    }

    /// Numbers what REST calls caused and is pending, in order, handing each to `use`; returns the
    /// member changes among them (``TrafficFact/throughREST(_:)``), in the same order.
    static func numberPending(
        _ state: inout State, _ use: (_ name: String, _ sequence: Int, _ payload: UnsafeRawBufferPointer) -> Void
    ) -> [TrafficFact] {
        let pending = state.pending
        state.pending = []
        var facts: [TrafficFact] = []
        for event in pending {
            number(name: event.name, data: event.data, &state) { use(event.name, $0, $1) }
            if event.fact != .none { facts.append(event.fact) }
        }
        return facts
    }

    /// What a REST-caused dispatch means for the ground truth: a member's new roles, or a removal.
    private static func fact(of name: String, _ change: TrafficChange?, guild: GuildID) -> TrafficFact {
        switch (name, change) {
        case ("GUILD_MEMBER_UPDATE", .updated(let member)?):
            .throughREST(.memberUpdated(guild: guild, user: member.user.id, roles: member.roles, pending: member.pending))
        case ("GUILD_MEMBER_REMOVE", .removed(let user)?), ("GUILD_MEMBER_REMOVE", .banned(let user)?):
            .throughREST(.memberLeft(guild: guild, user: user))
        default:
            .none
        }
    }

    /// Queues the dispatches one REST call caused (those the session's intents ask for) and changes
    /// the session's traffic to match (a kicked member stops posting), all in one locked step: no
    /// live event is drawn between two of them (a bulk ban's users are all banned at once). The
    /// connection is told to send them; a session without one sends them after its resume's replay.
    func deliver(_ events: [(name: String, data: [UInt8], change: TrafficChange?)], guild: GuildID) {
        guard shardGuilds.contains(guild) else { return }
        let connection: Connection? = state.withLock { state in
            guard !state.ended else { return nil }
            var queued = false
            func queue(_ name: String, _ data: [UInt8], _ change: TrafficChange? = nil) {
                if let needed = GatewayIntents.required(for: name), !intents.contains(needed) { return }
                state.pending.append((name, data, Self.fact(of: name, change, guild: guild)))
                queued = true
            }
            for event in events {
                if case .banned(let user) = event.change,
                   !events.contains(where: { if case .removed(user) = $0.change { true } else { false } }),
                   let removal = state.traffic.removalByBan(of: user, in: guild) {
                    queue(event.name, event.data)
                    queue("GUILD_MEMBER_REMOVE", removal, .banned(user))
                    state.traffic.apply(.banned(user), in: guild)
                    continue
                }
                // The mirror case: a leave drawn just before a kick or ban was the member's removal.
                if case .removed(let user) = event.change, state.traffic.hasLeft(user, from: guild) { continue }
                var gainedAccess: (channel: ChannelID, guildIndex: Int)?
                if let change = event.change {
                    // The bot's own view of a channel may change with its overwrites.
                    if case .channelUpdated(let channel, _) = change, let index = state.traffic.talkedAboutIndex(of: guild),
                       !state.traffic.botViews(channel, guildAt: index) {
                        gainedAccess = (channel, index)
                    }
                    let threadChanges = state.traffic.threadChange.count
                    state.traffic.apply(change, in: guild)
                    // A deleted channel takes its threads with it, for later sessions too.
                    if let worldThreads, state.traffic.threadChange.count != threadChanges {
                        let index = state.traffic.threadChange.guildIndex
                        worldThreads.update(state.traffic.threads(ofGuildAt: index), ofGuildAt: index)
                        // Events drawn ahead carry the guild's threads as they were then: told
                        // later, they would undo this change.
                        state.ahead.forgetThreads(ofGuildAt: index)
                    }
                }
                queue(event.name, event.data, event.change)
                // Discord tells a bot that gains access to a channel which threads are active in it.
                if let gained = gainedAccess, state.traffic.botViews(gained.channel, guildAt: gained.guildIndex) {
                    queue("THREAD_LIST_SYNC", state.traffic.threadListSync(of: gained.channel, guildAt: gained.guildIndex))
                }
            }
            return queued ? state.connection : nil
        }
        connection?.sendPending()
    }

    /// Takes the dispatches REST calls caused and numbers them, in one locked step, if `channel`
    /// is the session's connection: a resume on another connection cannot fall between taking and
    /// numbering and leave them neither pending nor numbered, never to be sent or replayed.
    func takePending(for channel: any Channel) -> [(name: String, sequence: Int, payload: [UInt8])] {
        let (taken, facts) = state.withLock { state -> ([(name: String, sequence: Int, payload: [UInt8])], [TrafficFact]) in
            guard state.connection?.channel === channel else { return ([], []) }
            var taken: [(name: String, sequence: Int, payload: [UInt8])] = []
            let facts = Self.numberPending(&state) { name, sequence, payload in taken.append((name, sequence, Array(payload))) }
            return (taken, facts)
        }
        for fact in facts { observe(fact) }
        return taken
    }

    /// Starts a raid wave in the session's traffic, if the guild is on its shard.
    func startRaid(guild: GuildID, size: Int) -> Bool {
        guard shardGuilds.contains(guild) else { return false }
        state.withLock { $0.traffic.startRaid(guild: guild, size: size) }
        return true
    }
}
