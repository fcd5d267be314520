import DiscordGateway
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization
public import DiscordModels

/// The simulated Discord on loopback: REST under `/api/v10` on one port, the gateway (a WebSocket,
/// `/?v=10&encoding=json&compress=zlib-stream|zstd-stream`) on another — separate hosts, as
/// discord.com and gateway.discord.gg are, so a client's pooled REST connection is never the one
/// it upgrades. READY's `resume_gateway_url` is a third port, as Discord's is a host of its own:
/// which of the two a client resumes on is recorded (``SimulatorRecord/Connection/viaResumeURL``).
public final class SimulatorServer: Sendable {
    public let configuration: SimulatorConfiguration
    /// Everything the simulator did, for assertions.
    public let record: SimulatorRecord
    /// The results a bot must reach from the traffic sent so far.
    public let groundTruth: GroundTruth
    let api: SimulatedAPI
    private let restChannel: any Channel
    private let gatewayChannel: any Channel
    private let resumeChannel: any Channel
    private let connections: Connections
    private let sessions: SessionRegistry
    private let identifyLimiter: IdentifyLimiter
    /// Lets go of expired sessions now and then, whether or not new ones arrive.
    private let sessionSweep: RepeatedTask

    /// The REST base URL, as a client's API base.
    public var apiBaseURL: String { "http://127.0.0.1:\(restChannel.localAddress?.port ?? 0)/api/v10" }
    /// The gateway URL, as `/gateway` and `/gateway/bot` give it.
    public var gatewayURL: String { "ws://127.0.0.1:\(gatewayChannel.localAddress?.port ?? 0)" }
    /// READY's `resume_gateway_url`: the same gateway, on a port of its own.
    public var resumeGatewayURL: String { "ws://127.0.0.1:\(resumeChannel.localAddress?.port ?? 0)" }

    /// Starts listening on 127.0.0.1 (port 0: any free port).
    public static func start(
        _ configuration: SimulatorConfiguration, restPort: Int = 0, gatewayPort: Int = 0, resumePort: Int = 0
    ) async throws -> SimulatorServer {
        let record = SimulatorRecord()
        let connections = Connections()
        let sessions = SessionRegistry()
        let identifyLimiter = IdentifyLimiter(configuration)
        let memberRequests = MemberRequestLimiter(window: .milliseconds(Int64(configuration.allMembersRequestWindowMilliseconds)))
        let groundTruth = GroundTruth(rules: configuration.xpRules)
        let guildStates = GuildStates(world: configuration.world)
        let interactions = InteractionRegistry(responseWindow: configuration.interactionResponseSeconds)
        let clock = RateLimitModel(limits: configuration.restLimits)
        let observe: @Sendable (TrafficFact) -> Void = { fact in
            switch fact {
            case .none, .memberAnnouncedAgain: return
            case .interaction(let id, let token, let guild, let channel, _, let componentMessage):
                interactions.register(id: id, token: token, guild: guild, channel: channel, componentMessage: componentMessage, at: clock.now)
            case .memberJoined, .memberLeft, .memberUpdated: guildStates.apply(fact)
            // A REST call's change is in the guilds' states since the call.
            case .message, .notOwnMessage, .reaction, .reactionsCleared, .throughREST: break
            }
            groundTruth.apply(fact)
        }
        let resumeAddress = ResumeAddress()
        let gateway = bootstrap(connections) { channel in
            let resumePort = resumeAddress.port.load(ordering: .acquiring)
            let viaResumeURL = channel.localAddress?.port == resumePort
            let upgrader = NIOWebSocketServerUpgrader(
                maxFrameSize: 1 << 20,
                // The session handler closes on a frame error itself, once, with Discord's code.
                automaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    channel.eventLoop.makeSucceededFuture(Self.compression(of: head.uri) == nil ? nil : HTTPHeaders())
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers([
                            NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: 1 << 20),
                            GatewaySessionHandler(
                                configuration: configuration, record: record, sessions: sessions, identifyLimiter: identifyLimiter,
                                compression: Self.compression(of: head.uri) ?? .none, resumeURL: "ws://127.0.0.1:\(resumePort)",
                                viaResumeURL: viaResumeURL, guildStates: guildStates,
                                memberRequests: memberRequests, apiVersion: Self.apiVersion(in: head.uri),
                                foresee: { groundTruth.prefetch($0) }, observe: observe),
                        ])
                    }
                })
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withServerUpgrade: (
                upgraders: [upgrader],
                completionHandler: { context in context.pipeline.removeHandler(name: "kamii.rest", promise: nil) }
            ))
            // A plain HTTP request to the gateway host gets the REST handler's 404.
            try channel.pipeline.syncOperations.addHandler(RESTHandler(api: nil), name: "kamii.rest")
        }
        // Bound before the gateway, so no connection is accepted before its port is known.
        let resumeChannel = try await gateway.bind(host: "127.0.0.1", port: resumePort).get()
        resumeAddress.port.store(resumeChannel.localAddress?.port ?? 0, ordering: .releasing)
        let gatewayChannel = try await gateway.bind(host: "127.0.0.1", port: gatewayPort).get()
        let gatewayURL = "ws://127.0.0.1:\(gatewayChannel.localAddress?.port ?? 0)"
        let injectFault: @Sendable (SimulatorFault, String?) -> Int = { fault, session in
            Self.inject(fault, session: session, into: sessions)
        }
        let api = SimulatedAPI(
            configuration: configuration, record: record, gatewayURL: gatewayURL, identifyLimiter: identifyLimiter,
            guilds: guildStates, interactions: interactions, rateLimits: clock, sessions: sessions, injectFault: injectFault)
        let restChannel = try await bootstrap(connections) { channel in
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(RESTHandler(api: api))
        }.bind(host: "127.0.0.1", port: restPort).get()
        // A quarter of the resume window (at least 100 ms): an expired session is held at most
        // that much longer.
        let sweepInterval = TimeAmount.milliseconds(max(100, Int64(configuration.resumeWindowMilliseconds) / 4))
        let sessionSweep = gatewayChannel.eventLoop.scheduleRepeatedTask(initialDelay: sweepInterval, delay: sweepInterval) { _ in
            sessions.pruneExpired()
        }
        return SimulatorServer(
            configuration: configuration, record: record, groundTruth: groundTruth, api: api, restChannel: restChannel,
            gatewayChannel: gatewayChannel, resumeChannel: resumeChannel, connections: connections, sessions: sessions,
            identifyLimiter: identifyLimiter, sessionSweep: sessionSweep)
    }

    private static func bootstrap(_ connections: Connections, _ initialize: @escaping @Sendable (any Channel) throws -> Void) -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            // Thousands of shards may connect at once; Discord's edge does not refuse them.
            .serverChannelOption(.backlog, value: 4_096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture { try initialize(channel) }
            }
    }

    private init(
        configuration: SimulatorConfiguration, record: SimulatorRecord, groundTruth: GroundTruth, api: SimulatedAPI,
        restChannel: any Channel, gatewayChannel: any Channel, resumeChannel: any Channel, connections: Connections, sessions: SessionRegistry,
        identifyLimiter: IdentifyLimiter, sessionSweep: RepeatedTask
    ) {
        self.configuration = configuration
        self.record = record
        self.groundTruth = groundTruth
        self.api = api
        self.restChannel = restChannel
        self.gatewayChannel = gatewayChannel
        self.resumeChannel = resumeChannel
        self.connections = connections
        self.sessions = sessions
        self.identifyLimiter = identifyLimiter
        self.sessionSweep = sessionSweep
    }

    /// The next `count` REST requests are refused with 429 of `scope` (`user`, `global` or `shared`)
    /// and this `retry_after` — a 429 storm.
    public func forceRateLimits(count: Int, retryAfter: Double, scope: String = "user") {
        precondition(retryAfter.isFinite && (0...86_400).contains(retryAfter), "retry_after must be 0…86,400 seconds")
        api.rateLimits.force(count: count, retryAfter: retryAfter, scope: scope)
    }

    /// The next `count` REST requests are answered with `status` (a 5xx): applied first, or (with
    /// `applied` false) not at all — Discord's gateway or an upstream down. A count of 0 ends them.
    public func forceServerErrors(count: Int, status: Int = 502, applied: Bool = true) {
        api.rateLimits.forceServerErrors(count: count, status: status, applied: applied)
    }

    /// Starts a raid wave on `guild` in the traffic of the sessions serving it; returns how many.
    @discardableResult
    public func startRaid(guild: GuildID, size: Int) -> Int {
        sessions.all.filter { !$0.isEnded && $0.startRaid(guild: guild, size: size) }.count
    }

    /// Invalid REST requests (401, 403, 429) counted in the current 10-minute window, and how many
    /// times the client was banned for too many.
    public var invalidRESTRequests: (inWindow: Int, bans: Int) { (api.rateLimits.invalidRequests, api.rateLimits.bans) }

    /// The names of the application commands registered (global when `guild` is nil).
    public func commandNames(guild: GuildID? = nil) -> [String] {
        api.commands.names(guild: guild)
    }

    /// The gateway sessions held: connected, or resumable (a session left unconnected is let go
    /// within a quarter of its resume window, or 100 ms if that is longer, after the window ends).
    public var sessionsHeld: Int { sessions.count }

    /// The next `count` identifies (allowed by the bucket and the budget, and counted) get no
    /// answer at all — no READY, op 9 or close — while heartbeats are still acknowledged: a gateway
    /// node in trouble, which a client must not wait on for ever.
    public func leaveIdentifiesUnanswered(_ count: Int) {
        identifyLimiter.leaveUnanswered(count)
    }

    /// Identifies refused because another shard of their bucket identified within the window.
    public var identifyBucketViolations: Int { identifyLimiter.violations }

    /// Injects `fault` on every connected session (or only on `sessionID`'s), as the fault plan of
    /// a test or a load run says. Returns how many connections it reached.
    @discardableResult
    public func inject(_ fault: SimulatorFault, session sessionID: String? = nil) -> Int {
        Self.inject(fault, session: sessionID, into: sessions)
    }

    private static func inject(_ fault: SimulatorFault, session sessionID: String?, into sessions: SessionRegistry) -> Int {
        let targets = sessions.all.filter { !$0.isEnded && (sessionID == nil || $0.id == sessionID) }.compactMap(\.connection)
        for connection in targets { connection.inject(fault) }
        return targets.count
    }

    /// Stops listening and closes every open connection (their sessions' traffic stops with them).
    public func stop() async throws {
        sessionSweep.cancel()
        try await restChannel.close()
        try await gatewayChannel.close()
        try await resumeChannel.close()
        for channel in connections.all {
            try? await channel.close()
        }
    }

    /// The version a gateway URL asks for when Discord serves it: `v` is required, 10 (or 9). Nil
    /// for another one, which is upgraded, then closed with 4012 after Hello.
    static func apiVersion(in uri: String) -> Int? {
        switch URLComponents(string: uri)?.queryItems?.first(where: { $0.name == "v" })?.value {
        case "10": 10
        case "9": 9
        default: nil
        }
    }

    /// The `compress` query parameter of a gateway URL; nil when the request is not for the gateway
    /// or asks for something Discord does not offer.
    static func compression(of uri: String) -> GatewayCompression? {
        guard let components = URLComponents(string: uri), !components.path.hasPrefix("/api/") else { return nil }
        let items = components.queryItems ?? []
        guard items.first(where: { $0.name == "encoding" })?.value ?? "json" == "json" else { return nil }
        guard let compress = items.first(where: { $0.name == "compress" })?.value else { return GatewayCompression.none }
        return GatewayCompression(rawValue: compress)
    }
}

/// The resume listener's port, known once it is bound (before any connection is accepted).
private final class ResumeAddress: Sendable {
    let port = Atomic<Int>(0)
}

/// The accepted connections still open, so `stop()` can close them.
private final class Connections: Sendable {
    private let open = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        open.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { _ in _ = self.open.withLock { $0.removeValue(forKey: key) } }
    }

    var all: [any Channel] { open.withLock { Array($0.values) } }
}
