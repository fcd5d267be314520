import DiscordGateway
import DiscordModels
import Foundation
import KamiiTestSupport
import NIOCore
import NIOEmbedded
import Synchronization
import Testing
@testable import DiscordSimulator

/// A session that draws its traffic ahead (`--prerender`) sends exactly what one drawing each
/// event as it goes sends: the same dispatches, numbered the same, with what each means told to the
/// ground truth and the world (members, threads) at the moment it is sent.
struct PrerenderedTrafficTests {
    /// What one session wrote and told, in order.
    final class Served: Sendable {
        let written = Mutex<[(sequence: Int, payload: [UInt8])]>([])
        let observed = Mutex<[TrafficFact]>([])
        let worldChanges = Mutex<[TrafficFact]>([])
        let threads = WorldThreads()

        var sequences: [Int] { written.withLock { $0.map(\.sequence) } }
        var payloads: [[UInt8]] { written.withLock { $0.map(\.payload) } }
        var facts: [TrafficFact] { observed.withLock { $0 } }
        /// The open threads the world keeps, by guild index (guilds with archived ones alone left out).
        var openThreads: [Int: [ChannelID]] {
            threads.threads(ofGuildsAt: 0..<Self.guildCount).mapValues { $0.active.map(\.id) }.filter { !$0.value.isEmpty }
        }

        static let guildCount = 12
    }

    let world = TrafficWorld(guildCount: Served.guildCount, userCount: 400, seed: 21)

    /// A session on shard 0 of 2 without the typing intent (some events drawn are not its to send),
    /// attached to an embedded channel whose event loop never runs: only what the session numbers
    /// is looked at.
    func session(prerender: Int, limit: Int? = nil, served: Served) -> (GatewaySession, EmbeddedChannel) {
        let (channel, connection) = embeddedConnection(world: world)
        let guilds = world.guilds.map(\.id).filter { ($0.rawValue >> 22) % 2 == 0 }
        let session = GatewaySession(
            id: "session", intents: [.guilds, .guildMembers, .guildMessages, .guildMessageReactions], shard: [0, 2], guilds: guilds,
            traffic: TrafficGenerator(world: world, seed: 5, shard: (0, 2)), worldThreads: served.threads,
            worldChange: { fact in served.worldChanges.withLock { $0.append(fact) } },
            observe: { fact in served.observed.withLock { $0.append(fact) } })
        session.attach(connection)
        session.prerender(prerender, limit: limit, for: channel)
        return (session, channel)
    }

    /// Asks the session for `events` live events (fewer are sent: some are not its to send).
    @discardableResult
    func serve(_ session: GatewaySession, _ channel: EmbeddedChannel, events: Int, limit: Int? = nil, into served: Served) -> [GatewaySession.LiveDispatch] {
        (0..<events).map { _ in
            session.nextLiveDispatch(limit: limit, for: channel) { _, sequence, payload in
                served.written.withLock { $0.append((sequence, Array(payload))) }
            }
        }
    }

    @Test func drawnAheadOrAsSentTheSessionSendsTheSame() {
        let live = Served(), ahead = Served()
        let (liveSession, liveChannel) = session(prerender: 0, served: live)
        let (aheadSession, aheadChannel) = session(prerender: 3_000, served: ahead)
        // Past the events drawn ahead: the rest are drawn as they are sent, from where those left off.
        serve(liveSession, liveChannel, events: 4_000, into: live)
        serve(aheadSession, aheadChannel, events: 4_000, into: ahead)

        #expect(live.sequences.count > 3_000 && live.sequences.count < 4_000, "some events drawn are not this session's to send")
        #expect(ahead.sequences == Array(1...live.sequences.count))
        let differing = zip(live.payloads, ahead.payloads).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(differing == nil, "the dispatches differ from s = \(differing.map { $0 + 1 } ?? 0)")
        #expect(ahead.facts == live.facts)
        #expect(ahead.worldChanges.withLock { $0 } == live.worldChanges.withLock { $0 })
        #expect(live.facts.contains { $0.isMemberChange }, "the traffic has joins, leaves or member updates")
        #expect(!live.openThreads.isEmpty, "the traffic opened threads")
        #expect(ahead.openThreads == live.openThreads)
    }

    @Test func whatAnEventMeansIsToldWhenItIsSentNotWhenItIsDrawn() {
        let live = Served(), ahead = Served()
        let (liveSession, liveChannel) = session(prerender: 0, served: live)
        let (aheadSession, aheadChannel) = session(prerender: 3_000, served: ahead)
        #expect(ahead.facts.isEmpty && ahead.openThreads.isEmpty, "nothing drawn ahead has happened yet")
        // As far as the live session has got when it first opened a thread.
        var asked = 0
        while live.openThreads.isEmpty, asked < 3_000 {
            serve(liveSession, liveChannel, events: 1, into: live)
            asked += 1
        }
        serve(aheadSession, aheadChannel, events: asked, into: ahead)
        #expect(!live.openThreads.isEmpty)
        #expect(ahead.facts == live.facts && ahead.openThreads == live.openThreads)
        #expect(aheadSession.eventsAhead == 3_000 - asked)
    }

    @Test func noMoreIsDrawnAheadThanTheSessionMaySend() {
        let ahead = Served()
        let (session, channel) = session(prerender: 1_000, limit: 100, served: ahead)
        #expect(session.eventsAhead >= 100 && session.eventsAhead < 150, "the sent ones among them stop at the limit")
        let outcomes = serve(session, channel, events: 200, limit: 100, into: ahead)
        #expect(ahead.sequences == Array(1...100))
        guard case .finished = outcomes.last else { Issue.record("the session's traffic is over at its limit"); return }
        #expect(session.eventsAhead == 0)
    }

    /// A channel deleted through REST takes its threads with it for later sessions, though events
    /// drawn before the deletion — some opening and changing threads in it — are still sent after it.
    @Test func aChannelDeletedMeanwhileStaysWithoutThreadsInTheWorld() throws {
        // Which threads the traffic has open after 3,000 events.
        let live = Served()
        let (liveSession, liveChannel) = session(prerender: 0, served: live)
        serve(liveSession, liveChannel, events: 3_000, into: live)
        // The lowest guild index: a dictionary's order changes from run to run.
        let (guildIndex, threadIDs) = try #require(live.openThreads.min { $0.key < $1.key })
        let parent = try #require(live.threads.threads(ofGuildsAt: [guildIndex])[guildIndex]?.active.first { $0.id == threadIDs[0] }?.parent)
        let guild = world.guilds[guildIndex].id

        // The same 3,000 drawn ahead, the channel deleted before any is sent.
        let ahead = Served()
        let (session, channel) = session(prerender: 3_000, served: ahead)
        let deleted = #"{"id":"\#(parent)","guild_id":"\#(guild)","type":0}"#
        session.deliver([("CHANNEL_DELETE", Array(deleted.utf8), .channelDeleted(parent))], guild: guild)
        serve(session, channel, events: 3_000, into: ahead)
        #expect(session.eventsAhead == 0)
        let left = ahead.threads.threads(ofGuildsAt: [guildIndex])[guildIndex]
        #expect(left.map { ($0.active + $0.archived).filter { $0.parent == parent }.isEmpty } ?? true, "no thread of the deleted channel is kept")
        channel.embeddedEventLoop.run()
    }

    @Test func whatRESTCausesIsNumberedBeforeTheEventsDrawnAhead() throws {
        let ahead = Served()
        let (session, channel) = session(prerender: 500, served: ahead)
        serve(session, channel, events: 100, into: ahead)
        let guild = try #require(world.guilds.first { ($0.id.rawValue >> 22) % 2 == 0 })
        let made = ChannelID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1_000), increment: 7)
        let created: [String: Any] = ["id": made.description, "guild_id": guild.id.description, "type": 0, "name": "fresh", "position": 9]
        let data = try JSONSerialization.data(withJSONObject: created, options: [.sortedKeys])
        let before = ahead.sequences.count
        session.deliver([("CHANNEL_CREATE", Array(data), .channelCreated(made, type: 0, overwrites: []))], guild: guild.id)
        serve(session, channel, events: 1_500, into: ahead)

        #expect(ahead.sequences == Array(1...ahead.sequences.count), "every dispatch numbered once, in order")
        let objects = ahead.payloads.map { try? JSONSerialization.jsonObject(with: Data($0)) as? [String: Any] }
        try #require(objects.count > before)
        #expect(objects[before]?["t"] as? String == "CHANNEL_CREATE", "the REST call's dispatch comes right after what was sent before it")
        let inMade = objects.indices.filter { (objects[$0]?["d"] as? [String: Any])?["channel_id"] as? String == made.description }
        #expect(!inMade.isEmpty, "members post in the new channel, once the events drawn before it are sent")
        #expect(session.takePending(for: channel).isEmpty)
        channel.embeddedEventLoop.run()
    }
}

/// `--prerender` through a real connection: a shard receives exactly its dispatch limit of live
/// events, drawn ahead in chunks, and the ground truth counts exactly the messages it received.
struct PrerenderedSessionTests {
    @Test func aSessionServedFromEventsDrawnAheadIsCountedAsSent() async throws {
        let world = TrafficWorld(guildCount: 4, userCount: 600, seed: 31)
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 20_000, maxDispatchesPerSession: 5_000)
        // More than the limit needs, and more than one chunk: drawing stops at the limit.
        configuration.prerenderedDispatches = 8_000
        let server = try await SimulatorServer.start(configuration)
        let shard = testShard(server, intents: [.guilds, .guildMembers, .guildMessages, .guildMessageReactions])
        let received = ReceivedDispatches()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the session's live dispatches", timeout: .seconds(60)) { received.count >= 1 + 4 + 5_000 }
        // Nothing past the limit.
        try await Task.sleep(for: .milliseconds(200))
        await shard.shutdown()
        _ = await stopped
        try await server.stop()

        #expect(received.count == 1 + 4 + 5_000)
        let messages = received.all.filter { $0.name == "MESSAGE_CREATE" }
        #expect(messages.count > 3_000)
        let counted = server.groundTruth.all.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.messages + $1.notOwnMessages } }
        #expect(counted == messages.count, "the ground truth counts what was sent, no more")
    }
}
