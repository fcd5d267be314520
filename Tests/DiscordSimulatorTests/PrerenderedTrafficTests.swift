import DiscordGateway
import DiscordModels
import Foundation
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import DiscordSimulator

/// A session that draws its traffic ahead (`--prerender`) sends exactly what one drawing each
/// event as it goes sends: the same dispatches, numbered the same, the same facts told to the
/// ground truth and the world at the moment each is sent.
struct PrerenderedTrafficTests {
    /// What one session wrote and told, in order.
    final class Served: Sendable {
        let written = Mutex<[(sequence: Int, payload: [UInt8])]>([])
        let observed = Mutex<[TrafficFact]>([])
        let worldChanges = Mutex<[TrafficFact]>([])
    }

    /// A session on `world`'s first guilds, attached to an embedded channel (its event loop is
    /// never run: only what the session numbers is looked at).
    func session(_ world: TrafficWorld, prerender: Int, served: Served) -> (GatewaySession, EmbeddedChannel) {
        let configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        let channel = EmbeddedChannel()
        let handler = GatewaySessionHandler(
            configuration: configuration, record: SimulatorRecord(), sessions: SessionRegistry(),
            identifyLimiter: IdentifyLimiter(configuration), compression: .none, resumeURL: "", guildStates: GuildStates(world: world),
            memberRequests: MemberRequestLimiter(window: .seconds(1)), observe: { _ in })
        // Shard 0 of 2 and no typing intent: some drawn events are not sent.
        let guilds = world.guilds.map(\.id).filter { ($0.rawValue >> 22) % 2 == 0 }
        let session = GatewaySession(
            id: "session", intents: [.guilds, .guildMembers, .guildMessages, .guildMessageReactions], shard: [0, 2], guilds: guilds,
            traffic: TrafficGenerator(world: world, seed: 5, shard: (0, 2)),
            worldChange: { fact in served.worldChanges.withLock { $0.append(fact) } },
            observe: { fact in served.observed.withLock { $0.append(fact) } })
        session.attach(GatewaySession.Connection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop)))
        session.prerender(prerender)
        return (session, channel)
    }

    func serve(_ session: GatewaySession, _ channel: EmbeddedChannel, events: Int, into served: Served) {
        for _ in 0..<events {
            _ = session.nextLiveDispatch(limit: nil, for: channel) { _, sequence, payload in
                served.written.withLock { $0.append((sequence, Array(payload))) }
            }
        }
    }

    @Test func drawnAheadOrAsSentTheSessionSendsTheSame() {
        let world = TrafficWorld(guildCount: 12, userCount: 400, seed: 21)
        let live = Served(), ahead = Served()
        let (liveSession, liveChannel) = session(world, prerender: 0, served: live)
        let (aheadSession, aheadChannel) = session(world, prerender: 2_000, served: ahead)
        // Past the events drawn ahead: the rest are drawn as they are sent, from where those left off.
        serve(liveSession, liveChannel, events: 3_000, into: live)
        serve(aheadSession, aheadChannel, events: 3_000, into: ahead)

        let liveWritten = live.written.withLock { $0 }, aheadWritten = ahead.written.withLock { $0 }
        #expect(liveWritten.count > 2_000 && liveWritten.count < 3_000, "some events drawn are not this session's to send")
        #expect(aheadWritten.count == liveWritten.count)
        #expect(aheadWritten.map(\.sequence) == Array(1...aheadWritten.count))
        let differing = zip(liveWritten, aheadWritten).enumerated().first { $0.element.0.payload != $0.element.1.payload }?.offset
        #expect(differing == nil, "the dispatches differ from s = \(differing.map { $0 + 1 } ?? 0)")
        #expect(ahead.observed.withLock { $0 } == live.observed.withLock { $0 })
        #expect(ahead.worldChanges.withLock { $0 } == live.worldChanges.withLock { $0 })
        #expect(live.observed.withLock { $0.contains { $0.isMembershipChange } }, "the traffic has joins or leaves")
    }

    @Test func factsAreToldAsEachEventIsSentNotWhenItIsDrawn() {
        let world = TrafficWorld(guildCount: 12, userCount: 400, seed: 21)
        let ahead = Served()
        let (session, channel) = session(world, prerender: 1_000, served: ahead)
        #expect(ahead.observed.withLock { $0.isEmpty } && ahead.worldChanges.withLock { $0.isEmpty })
        serve(session, channel, events: 10, into: ahead)
        #expect(ahead.written.withLock { $0.count } <= 10)
        #expect(ahead.observed.withLock { $0.count } <= 10)
    }

    @Test func whatRESTCausesIsNumberedBeforeTheEventsDrawnAhead() throws {
        let world = TrafficWorld(guildCount: 12, userCount: 400, seed: 21)
        let ahead = Served()
        let (session, channel) = session(world, prerender: 500, served: ahead)
        serve(session, channel, events: 100, into: ahead)
        let guild = try #require(world.guilds.first { ($0.id.rawValue >> 22) % 2 == 0 })
        let made = ChannelID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1_000), increment: 7)
        let created: [String: Any] = ["id": made.description, "guild_id": guild.id.description, "type": 0, "name": "fresh", "position": 9]
        let data = try JSONSerialization.data(withJSONObject: created, options: [.sortedKeys])
        let before = ahead.written.withLock { $0.count }
        session.deliver([("CHANNEL_CREATE", Array(data), .channelCreated(made, type: 0, overwrites: []))], guild: guild.id)
        serve(session, channel, events: 1_500, into: ahead)

        let written = ahead.written.withLock { $0 }
        #expect(written.map(\.sequence) == Array(1...written.count), "every dispatch numbered once, in order")
        let names = written.map { payload -> String in
            let object = try? JSONSerialization.jsonObject(with: Data(payload.payload)) as? [String: Any]
            return object?["t"] as? String ?? ""
        }
        #expect(names[before] == "CHANNEL_CREATE", "the REST call's dispatch comes right after what was sent before it")
        #expect(session.takePending(for: channel).isEmpty)
        channel.embeddedEventLoop.run()
    }
}
