import DiscordGateway
import DiscordModels
import DiscordSimulator
import Foundation
import KamiiTestSupport
import Synchronization
import Testing

/// A shard against the simulator: it logs in on each compression, survives every resumable fault
/// without a gap or a repeat (by `s`, compared with what the simulator recorded sending), starts a
/// new session after op 9 `false`, stops for good on 4004, and resumes after a restart.
struct ShardConnectionTests {
    /// What a consumer received, in order.
    final class Received: Sendable {
        private let items = Mutex<[(name: String, sequence: Int?, guild: GuildID?)]>([])

        func add(_ dispatch: ShardDispatch) {
            items.withLock { $0.append((dispatch.name, dispatch.sequence, dispatch.guildID)) }
        }

        var all: [(name: String, sequence: Int?, guild: GuildID?)] { items.withLock { $0 } }
        var count: Int { items.withLock { $0.count } }
    }

    static func shard(_ server: SimulatorServer, _ compression: GatewayCompression = .zstdStream, token: String? = nil) -> ShardConnection {
        // The simulator's identify window is shortened for tests; the shard's queue keeps to it.
        ShardConnection(
            configuration: ShardConfiguration(
                token: token ?? server.configuration.token, intents: [.guilds, .guildMessages, .guildMessageReactions, .guildMembers],
                gatewayURL: server.gatewayURL, compression: compression, backoffBase: 0.05, backoffCap: 0.5),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)))
    }

    @Test(arguments: [GatewayCompression.zstdStream, .zlibStream, .none])
    func aShardReceivesEverythingInOrder(_ compression: GatewayCompression) async throws {
        let world = TrafficWorld(guildCount: 20, userCount: 600, seed: 81)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 2_000, maxDispatchesPerSession: 1_500))
        let shard = Self.shard(server, compression)
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("1 + 20 + 1,500 dispatches") { received.count == 1_521 }
        await shard.shutdown()
        #expect(await stopped == .shutdown)

        let all = received.all
        #expect(all.first?.name == "READY")
        #expect(all.filter { $0.name == "GUILD_CREATE" }.count == 20)
        expectContiguousSequences(all.map { ($0.name, $0.sequence) })
        let guilds = Set(world.guilds.map(\.id))
        #expect(all.dropFirst().allSatisfy { $0.guild.map(guilds.contains) ?? false }, "every guild event names its guild")
        let connection = try #require(server.record.connections.first)
        #expect(connection.compression == compression.rawValue)
        #expect(connection.dispatches.values.reduce(0, +) == 1_521)
        // On zlib-stream, some payloads came across two WebSocket messages and were still read whole.
        #expect((connection.splitMessages > 0) == (compression == .zlibStream), "\(connection.splitMessages)")
        try await waitUntil("the close frame") { server.record.connections.first?.clientCloseCode != nil }
        #expect(server.record.connections.first?.clientCloseCode == 4000, "closed resumably, not with 1000")
        try await server.stop()
    }

    @Test(arguments: [GatewayCompression.zstdStream, .zlibStream])
    func everyResumableFaultIsSurvivedWithoutAGapOrARepeat(_ compression: GatewayCompression) async throws {
        let world = TrafficWorld(guildCount: 10, userCount: 400, seed: 82)
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            // Short enough that silenced ACKs are noticed within seconds, long enough that a loaded
            // CI machine does not miss the simulator's 1.5-interval deadline.
            heartbeatIntervalMilliseconds: 3_000, world: world, dispatchesPerSecond: 400, identifyWindowMilliseconds: 500))
        let shard = Self.shard(server, compression)
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        let faults: [SimulatorFault] = [
            .reconnect, .invalidSession(resumable: true), .dropConnection, .close(code: 4000), .corruptNextMessage,
            .requestHeartbeat, .ping, .stopHeartbeatACKs, .pauseReading(milliseconds: 300),
        ]
        for fault in faults {
            let before = received.count
            let resumesBefore = await shard.resumes
            try await waitUntil("traffic before \(fault)") { received.count >= before + 50 && server.inject(fault) > 0 }
            if fault == .stopHeartbeatACKs {
                // Silence is noticed at the next beat (within 3 s here): the shard closes and resumes.
                try await waitUntil("the zombie connection replaced") { await shard.resumes > resumesBefore }
            }
            try await waitUntil("traffic after \(fault)") { received.count >= before + 200 }
        }
        await shard.shutdown()
        _ = await stopped

        let all = received.all
        #expect(all.filter { $0.name == "READY" }.count == 1, "one session throughout")
        expectContiguousSequences(all.map { ($0.name, $0.sequence) })
        // On a loaded machine a first connection may time out before it identified: the session is
        // the one that was opened.
        let sessionID = try #require(server.record.connections.first { $0.sessionID != nil }?.sessionID)
        let sent = server.record.dispatches(inSession: sessionID)
        let counted = Dictionary(grouping: all, by: \.name).mapValues(\.count)
        // What was numbered after the last dispatch the shard took was in flight at the shutdown
        // (how many depends on how fast a loaded machine shut down); nothing before it is missing.
        let lastSent = server.record.connections.filter { $0.sessionID == sessionID }.map(\.lastSequence).max() ?? 0
        let inFlight = lastSent - (all.compactMap(\.sequence).max() ?? 0)
        #expect(inFlight >= 0)
        for (name, count) in sent where name != "RESUMED" {
            #expect(counted[name, default: 0] <= count && count - counted[name, default: 0] <= inFlight, "\(name): received \(counted[name, default: 0]) of \(count), \(inFlight) in flight")
        }
        let (resumes, identifies) = (await shard.resumes, await shard.identifies)
        // op 7, op 9 true, the drop, close 4000, the corrupt message and the zombie each resumed.
        #expect(resumes >= 6 && identifies == 1)
        let connections = server.record.connections
        // The WebSocket ping was answered with its own bytes, on the connection it came on.
        #expect(connections.map(\.pingsSent).reduce(0, +) >= 1)
        #expect(connections.allSatisfy { $0.pongsReceived == $0.pingsSent })
        let resumedElsewhere = connections.filter { $0.resumed && !$0.viaResumeURL }.count
        #expect(resumedElsewhere == 0, "every resume on READY's resume_gateway_url")
        #expect(connections.first { $0.sessionID != nil }?.viaResumeURL == false, "the identify on the gateway URL")
        try await server.stop()
    }

    /// The rate is the guilds' traffic: a session whose intents cover little of it (GUILDS only:
    /// thread events, and interactions, which need no intent) receives that little, as on Discord — it is not sent the
    /// rate in rare events, which took drawing hundreds of events per dispatch sent.
    @Test func narrowIntentsReceiveTheirShareOfTheTrafficNotTheRate() async throws {
        let rate = 2_000
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 10, userCount: 400, seed: 90), dispatchesPerSecond: rate))
        let shard = ShardConnection(
            configuration: ShardConfiguration(token: server.configuration.token, intents: [.guilds], gatewayURL: server.gatewayURL),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)))
        let received = Received()
        let start = ContinuousClock.now
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("READY and the guilds") { received.all.filter { $0.name == "GUILD_CREATE" }.count == 10 }
        try await Task.sleep(for: .milliseconds(1_500))
        let elapsed = (ContinuousClock.now - start) / .seconds(1)
        await shard.shutdown()
        _ = await stopped
        let live = received.all.filter { !["READY", "GUILD_CREATE"].contains($0.name) }
        #expect(!live.isEmpty, "its share is not nothing")
        // Interactions need no intent.
        #expect(live.allSatisfy { [.guilds, nil].contains(GatewayIntents.required(for: $0.name)) }, "\(Set(live.map(\.name)))")
        // Ticks never run ahead of the clock, so at most rate × time events were drawn.
        #expect(Double(live.count) <= Double(rate) * (elapsed + 0.1) * 0.05, "\(live.count) dispatches in \(elapsed) s")
        try await server.stop()
    }

    /// Guilds go on while a shard is away: a resume brings what happened meanwhile before
    /// RESUMED, as Discord does, not only what was in flight when the connection dropped.
    @Test func aResumeBringsWhatHappenedWhileAway() async throws {
        let world = TrafficWorld(guildCount: 10, userCount: 400, seed: 89)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 500))
        // A second drop soon after the first waits out a backoff of 0.5–1.5 s: time away.
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages, .guildMessageReactions, .guildMembers],
                gatewayURL: server.gatewayURL, backoffBase: 1, backoffCap: 1),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)))
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("traffic") { received.count >= 100 }
        #expect(server.inject(.dropConnection) == 1)
        try await waitUntil("the first resume") { received.all.contains { $0.name == "RESUMED" } }
        let before = received.count
        #expect(server.inject(.dropConnection) == 1)
        try await waitUntil("the second resume") { received.all.filter { $0.name == "RESUMED" }.count == 2 }
        await shard.shutdown()
        _ = await stopped
        let all = received.all
        expectContiguousSequences(all.map { ($0.name, $0.sequence) })
        let resumed = try #require(all.lastIndex { $0.name == "RESUMED" })
        let whileAway = all[before..<resumed].filter { $0.name != "RESUMED" }.count
        #expect(whileAway >= 100, "about 250–750 dispatches of the time away came before RESUMED; got \(whileAway)")
        try await server.stop()
    }

    @Test func aNonResumableInvalidSessionStartsANewOne() async throws {
        let world = TrafficWorld(guildCount: 5, userCount: 200, seed: 83)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 300, identifyWindowMilliseconds: 500))
        let shard = Self.shard(server)
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("the first session's traffic") { received.count >= 100 }
        server.inject(.invalidSession(resumable: false))
        try await waitUntil("a second READY") { received.all.filter { $0.name == "READY" }.count == 2 }
        try await waitUntil("the second session's traffic") { received.all.last?.sequence ?? 0 > 50 }
        await shard.shutdown()
        _ = await stopped
        expectContiguousSequences(received.all.map { ($0.name, $0.sequence) })
        #expect(await shard.identifies == 2)
        #expect(Set(server.record.connections.compactMap(\.sessionID)).count == 2)
        try await server.stop()
    }

    @Test func aShardWhoseSessionsKeepDyingStopsInsteadOfSpendingTheBudget() async throws {
        let world = TrafficWorld(guildCount: 3, userCount: 100, seed: 86)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 50, identifyWindowMilliseconds: 100))
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages], gatewayURL: server.gatewayURL,
                backoffBase: 0.02, backoffCap: 0.1, identifyLimit: .init(count: 3, period: .seconds(600))),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(100)))
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        // Every session is invalidated as soon as it is ready: the shard identifies again each time.
        for round in 1...3 {
            try await waitUntil("session \(round)") { received.all.filter { $0.name == "READY" }.count == round }
            try await waitUntil("session \(round) invalidated") { server.inject(.invalidSession(resumable: false)) > 0 }
        }
        let reason = await stopped
        #expect(reason == .identifyLoop(count: 3, period: .seconds(600)), "\(reason)")
        #expect(await shard.identifies == 3, "the fourth identify was never sent")
        #expect(reason.description.contains("session budget"))
        try await server.stop()
    }

    /// A gate that keeps a shard waiting, as a cold start of thousands of shards does.
    struct SlowGate: IdentifyGate {
        let wait: Duration
        func waitForTurn(shard: Int) async throws { try await Task.sleep(for: wait) }
    }

    @Test func aShardWaitingLongForItsTurnKeepsItsConnectionAlive() async throws {
        // Heartbeats every 300 ms, a turn after 2 s: the shard must keep reading ACKs meanwhile,
        // or its own heartbeats would call the connection a zombie and start over.
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 300, world: TrafficWorld(guildCount: 2, userCount: 50, seed: 87), dispatchesPerSecond: 20))
        let shard = ShardConnection(
            configuration: ShardConfiguration(token: server.configuration.token, intents: [.guilds, .guildMessages], gatewayURL: server.gatewayURL),
            identifyGate: SlowGate(wait: .seconds(2)))
        let received = Received()
        async let stopped = shard.run { received.add($0) }
        try await waitUntil("READY") { received.all.contains { $0.name == "READY" } }
        await shard.shutdown()
        _ = await stopped
        #expect(await shard.connections == 1, "the connection survived the wait")
        #expect(await shard.identifies == 1)
        try await server.stop()
    }

    /// A consumer that holds the shard back (a full stats buffer while Redis is away) for several
    /// heartbeat intervals: heartbeats go on, the unread ACKs are not taken for a dead connection,
    /// and the session goes on where it was, without a reconnect.
    @Test func aConsumerHoldingTheShardBackIsNotTakenForADeadConnection() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: 300, world: TrafficWorld(guildCount: 2, userCount: 50, seed: 89), dispatchesPerSecond: 20))
        let shard = Self.shard(server)
        let received = Received()
        let held = Atomic<Bool>(false)
        async let stopped = shard.run { dispatch in
            received.add(dispatch)
            if dispatch.name == "MESSAGE_CREATE", !held.exchange(true, ordering: .relaxed) {
                try? await Task.sleep(for: .seconds(2))
            }
        }
        try await waitUntil("traffic after the hold") { received.all.filter { $0.name == "MESSAGE_CREATE" }.count >= 20 }
        await shard.shutdown()
        _ = await stopped
        #expect(await shard.connections == 1, "no reconnect while the consumer held the shard")
        #expect(server.record.connections.count == 1)
        expectContiguousSequences(received.all.map { ($0.name, $0.sequence) })
        try await server.stop()
    }

    /// A Hello whose interval no gateway would send (past Int64 nanoseconds once in seconds) is a
    /// broken stream: the shard reconnects, it does not trap.
    @Test func anAbsurdHeartbeatIntervalIsRefusedNotTrappedOn() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            heartbeatIntervalMilliseconds: Int.max, world: TrafficWorld(guildCount: 2, userCount: 50, seed: 88), dispatchesPerSecond: 0))
        let shard = Self.shard(server)
        async let stopped = shard.run { _ in }
        try await waitUntil("a reconnect") { await shard.connections >= 2 }
        await shard.shutdown()
        _ = await stopped
        #expect(await shard.identifies == 0)
        try await server.stop()
    }

    @Test func aBadTokenStopsTheShardAtOnceWithAReason() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 2, userCount: 50, seed: 84), dispatchesPerSecond: 0))
        let shard = Self.shard(server, token: "not.the.token")
        let reason = await shard.run { _ in }
        guard case .closed(let code, let text) = reason else {
            Issue.record("expected a close, got \(reason)")
            return
        }
        #expect(code == 4004 && text.contains("token"))
        #expect(await shard.connections == 1, "no retry after a fatal close code")
        #expect(server.record.connections.count == 1)
        try await server.stop()
    }

    @Test func aRestartedShardResumesTheSavedSession() async throws {
        let world = TrafficWorld(guildCount: 5, userCount: 200, seed: 85)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 300, identifyWindowMilliseconds: 500))
        let first = Self.shard(server)
        let before = Received()
        let firstTags = Mutex<Set<UInt64>>([])
        let firstReplays = Atomic<Int>(0)
        async let firstStopped = first.run { dispatch in
            before.add(dispatch)
            firstTags.withLock { _ = $0.insert(dispatch.sessionTag) }
            if dispatch.mayBeApplied { firstReplays.add(1, ordering: .relaxed) }
        }
        try await waitUntil("traffic") { before.count >= 100 }
        await first.shutdown()
        _ = await firstStopped
        let saved = try #require(await first.session)
        #expect(firstTags.withLock { $0 } == [SessionTag.of(saved.id)], "every dispatch of the session carries its tag")
        #expect(firstReplays.load(ordering: .relaxed) == 0, "a session this process identified repeats nothing")
        // Saved 30 dispatches back (as when the first process's last flush was in Redis but its
        // session record was not): the replay repeats them.
        let savedAt = saved.sequence - 30

        let restarted = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages], gatewayURL: server.gatewayURL),
            resuming: (saved.id, savedAt, saved.resumeURL))
        let after = Received()
        let origins = Mutex<[(name: String, tag: UInt64, mayBeApplied: Bool)]>([])
        async let secondStopped = restarted.run { dispatch in
            after.add(dispatch)
            origins.withLock { $0.append((dispatch.name, dispatch.sessionTag, dispatch.mayBeApplied)) }
        }
        try await waitUntil("traffic after the restart") { after.count >= 100 }
        await restarted.shutdown()
        _ = await secondStopped

        let (identifies, resumes) = (await restarted.identifies, await restarted.resumes)
        #expect(identifies == 0 && resumes == 1)
        #expect(after.all.first { $0.sequence != nil }?.sequence == savedAt + 1, "the replay continues where the saved session stopped")
        // RESUMED is numbered too, as on Discord: the sequence runs on through it.
        expectContiguousSequences((before.all + after.all.drop { ($0.sequence ?? 0) <= saved.sequence }).map { ($0.name, $0.sequence) })
        // Everything up to RESUMED may repeat what the first process applied; nothing after it does.
        let seen = origins.withLock { $0 }
        let resumed = try #require(seen.firstIndex { $0.name == "RESUMED" })
        #expect(resumed >= 30)
        #expect(seen[..<resumed].allSatisfy(\.mayBeApplied) && !seen[resumed...].contains(where: \.mayBeApplied))
        #expect(seen.allSatisfy { $0.tag == SessionTag.of(saved.id) }, "the session's tag is the first process's")
        #expect(server.record.connections.last?.resumed == true)
        try await server.stop()
    }

    /// A restored session's connection drops while its consumer holds the replay's first dispatch:
    /// whether RESUMED came before the drop or only on the next connection, everything up to the
    /// first RESUMED this process sees is marked (a replay cut short may still repeat what the
    /// earlier process applied), and nothing after it (a later resume replays only what this
    /// process received). Here the simulator had sent the whole replay and RESUMED before the
    /// drop; the cut-short case needs a replay larger than the connection buffers (8,000 dispatches,
    /// 7 MB uncompressed, still arrived whole).
    @Test func aRestoredSessionDroppedInItsReplayMarksUpToItsFirstResumed() async throws {
        let world = TrafficWorld(guildCount: 5, userCount: 200, seed: 86)
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: world, dispatchesPerSecond: 2_000, identifyWindowMilliseconds: 500))
        let first = Self.shard(server, .none)
        let before = Received()
        async let firstStopped = first.run { before.add($0) }
        try await waitUntil("traffic") { before.count >= 1_500 }
        await first.shutdown()
        _ = await firstStopped
        let saved = try #require(await first.session)

        // Uncompressed and 1,200 dispatches back: a replay of about a megabyte, which the drop can
        // cut short while the consumer holds the shard at its first dispatch.
        let restarted = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages], gatewayURL: server.gatewayURL, compression: .none,
                backoffBase: 0.05, backoffCap: 0.5),
            resuming: (saved.id, saved.sequence - 1_200, saved.resumeURL))
        let seen = Mutex<[(name: String, sequence: Int?, mayBeApplied: Bool)]>([])
        let dropped = Atomic<Bool>(false)
        let connectionsDropped = Atomic<Int>(0)
        async let stopped = restarted.run { dispatch in
            seen.withLock { $0.append((dispatch.name, dispatch.sequence, dispatch.mayBeApplied)) }
            if !dropped.exchange(true, ordering: .relaxed) {
                connectionsDropped.store(server.inject(.dropConnection), ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        try await waitUntil("a second resume, and traffic after its RESUMED") {
            let resumed = seen.withLock { $0.filter { $0.name == "RESUMED" }.count }
            return await restarted.resumes == 2 && resumed >= 1 && seen.withLock { $0.last?.name != "RESUMED" }
        }
        await restarted.shutdown()
        _ = await stopped

        #expect(connectionsDropped.load(ordering: .relaxed) == 1)
        let all = seen.withLock { $0 }
        // From the saved point on, through the drop and both resumes: no gap, no repeat.
        let numbered = all.compactMap { $0.sequence }
        #expect(numbered.first == saved.sequence - 1_199 && numbered == Array(numbered[0]..<numbered[0] + numbered.count))
        let firstResumed = try #require(all.firstIndex { $0.name == "RESUMED" })
        #expect(all[..<firstResumed].allSatisfy { $0.mayBeApplied }, "the replay, on either connection, is marked")
        #expect(!all[firstResumed...].contains { $0.mayBeApplied }, "nothing after RESUMED is")
        try await server.stop()
    }
}
