import NIOCore
import NIOEmbedded
@testable import DiscordSimulator

/// A connection for a session under test: an embedded channel, whose event loop runs only when
/// the test runs it, and a handler that never saw an identify (it sends nothing of its own).
func embeddedConnection(world: TrafficWorld) -> (channel: EmbeddedChannel, connection: GatewaySession.Connection) {
    let configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
    let channel = EmbeddedChannel()
    let handler = GatewaySessionHandler(
        configuration: configuration, record: SimulatorRecord(), sessions: SessionRegistry(),
        identifyLimiter: IdentifyLimiter(configuration), compression: .none, resumeURL: "", guildStates: GuildStates(world: world),
        memberRequests: MemberRequestLimiter(window: .seconds(1)), observe: { _ in })
    return (channel, GatewaySession.Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop)))
}

/// A session of `world`'s one guild on an embedded connection, with the intents member and message
/// events need, its traffic seeded with 5; `observe` hears each dispatch's fact as it is numbered.
func embeddedSession(
    world: TrafficWorld, observe: @escaping @Sendable (TrafficFact) -> Void = { _ in }
) -> (channel: EmbeddedChannel, session: GatewaySession) {
    let (channel, connection) = embeddedConnection(world: world)
    let session = GatewaySession(
        id: "session", intents: [.guilds, .guildMembers, .guildMessages], shard: [0, 1], guilds: [world.guilds[0].id],
        traffic: TrafficGenerator(world: world, seed: 5), observe: observe)
    session.attach(connection)
    return (channel, session)
}
