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
