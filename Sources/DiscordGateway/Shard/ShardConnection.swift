import DiscordModels
import Foundation
import NIOCore
import NIOWebSocket
import Synchronization

/// One gateway shard: its connection, heartbeats, identify and resume, driven by
/// ``ShardStateMachine``. Dispatches leave in order through the consumer given to ``run(_:)``,
/// which is awaited for each one — a slow consumer slows the socket, nothing queues up — and the
/// shard resumes across faults so the consumer sees no gap and no repeat.
public actor ShardConnection {
    public let configuration: ShardConfiguration
    let identifyGate: any IdentifyGate
    var machine: ShardStateMachine
    let inflater: any GatewayInflater
    var socket: GatewayWebSocket?
    var nextHeartbeat: ContinuousClock.Instant?
    var sendLimiter: GatewaySendLimiter
    var stopReason: ShardStateMachine.StopReason?
    var identifyBreaker: IdentifyCircuitBreaker
    /// The wait before reconnecting, while there is one: ``shutdown()`` ends it (a backoff can
    /// last a minute).
    var backoffWait: Task<Void, Never>?
    /// The wait for the identify gate, while there is one.
    var identifyWait: Task<Void, any Error>?
    /// The connection being made, while one is: ``shutdown()`` gives it up (the TCP connect and
    /// the upgrade may each take up to `helloTimeout`).
    var connectAttempt: Task<GatewayWebSocket, any Error>?
    /// Asks the live connection's identify task to wait for a turn and identify.
    var identifyRequest: AsyncStream<Void>.Continuation?
    /// The last dispatch's bytes, reused for the next one once the consumer let go of them.
    var payloadStorage: [UInt8] = []
    /// The `s` of the last dispatch the consumer returned from.
    var deliveredSequence: Int?
    /// Whether the consumer is working on a dispatch: the frame loop waits for it, so heartbeat
    /// ACKs may sit unread (``ShardStateMachine/heartbeatDue(readingHeldBack:)``).
    var consuming = false
    /// The `s` up to which the consumer's work is durable (``markDurable(session:sequence:)``).
    var durableSequence: Int?
    /// The number of the current session, stamped on each dispatch: unique in the process (a new
    /// connection object for the same shard never reuses one), so a durable mark meant for an
    /// earlier session cannot land on a later one.
    var sessionNumber = 0
    static let sessionNumbers = Atomic<Int>(0)
    /// The current session's ``SessionTag``, stamped on each dispatch.
    var sessionTag: UInt64 = 0
    /// Whether the shard is resuming a session an earlier process saved and has not seen its
    /// RESUMED (or a READY) yet: what it receives meanwhile is replayed from the saved `s` on, and
    /// may have been applied by that process (``ShardDispatch/mayBeApplied``).
    var replayingSavedSession = false
    /// Asked before each connection is made: false stops the shard, as a shutdown would.
    let connectGate: (@Sendable () async -> Bool)?
    /// Told of each connection that could not be made (DNS, TCP, TLS, the upgrade), with how many
    /// in a row: without it a gateway URL that cannot work would only show as a shard never ready.
    let connectFailed: (@Sendable (_ error: any Error, _ inARow: Int) -> Void)?
    var connectFailuresInARow = 0
    /// ``dropConnection()`` was asked since the connect gate was last passed: a connection made
    /// meanwhile is dropped as soon as it is up.
    var dropRequested = false
    let started = ContinuousClock.now

    /// Counters for operators and tests.
    public internal(set) var connections = 0
    public internal(set) var resumes = 0
    public internal(set) var identifies = 0
    /// Sessions given up because one message could never be read (the same point broke the stream
    /// three times in a row).
    public var sessionsAbandoned: Int { machine.sessionsAbandoned }
    /// Sessions given up because they would not resume (three resumes in a row ended with neither
    /// RESUMED nor a replayed dispatch): the shard identified instead.
    public var sessionsUnresumable: Int { machine.sessionsUnresumable }
    /// Connections made again because Discord answered neither their identify nor their resume.
    public var handshakesUnanswered: Int { machine.handshakesUnanswered }

    /// - Parameters:
    ///   - resuming: a session an earlier process saved (restart-safe resume): the shard resumes
    ///     it instead of identifying.
    ///   - connectFailed: told of each connection that could not be made, and how many in a row.
    ///   - connectGate: asked before each connection (the first, and every reconnect): it may
    ///     hold the shard (the shard manager, while another process holds the shard's lease), or
    ///     answer false to stop it.
    public init(
        configuration: ShardConfiguration, resuming saved: (sessionID: String, sequence: Int, resumeURL: String)? = nil,
        identifyGate: any IdentifyGate = LocalIdentifyQueue(), connectGate: (@Sendable () async -> Bool)? = nil,
        connectFailed: (@Sendable (_ error: any Error, _ inARow: Int) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.identifyGate = identifyGate
        self.connectGate = connectGate
        self.connectFailed = connectFailed
        if let saved {
            // Everything up to a saved session's `s` was durable when it was saved, and delivered.
            durableSequence = saved.sequence
            deliveredSequence = saved.sequence
            sessionTag = SessionTag.of(saved.sessionID)
            replayingSavedSession = true
            machine = ShardStateMachine(
                gatewayURL: configuration.gatewayURL, resuming: saved.sessionID, sequence: saved.sequence, resumeURL: saved.resumeURL,
                backoffBase: configuration.backoffBase, backoffCap: configuration.backoffCap)
        } else {
            machine = ShardStateMachine(
                gatewayURL: configuration.gatewayURL, backoffBase: configuration.backoffBase, backoffCap: configuration.backoffCap)
        }
        // A limit below the inflater's usual first buffer takes that buffer down with it.
        let limit = configuration.messageLimit
        inflater = configuration.compression.makeInflater(
            limits: InflaterLimits(initialOutputCapacity: min(32 * 1024, limit), maxPayloadBytes: limit))
        sendLimiter = GatewaySendLimiter()
        identifyBreaker = IdentifyCircuitBreaker(limit: configuration.identifyLimit)
    }

    /// The session as it stands, for saving: what a restarted process resumes with. Its sequence
    /// is the last dispatch the consumer finished with, so a resume replays anything it had not.
    public var session: (id: String, sequence: Int, resumeURL: String)? {
        // What the consumer returned from, never what it is still working on (`machine.sequence`
        // moves on as a dispatch arrives): a save during its work must not skip it.
        guard let id = machine.sessionID, let sequence = deliveredSequence, let url = machine.resumeURL else { return nil }
        let saved = configuration.savesDurableSequence ? min(durableSequence ?? 0, sequence) : sequence
        return (id, min(saved, machine.sequence ?? saved), url)
    }

    /// The current session's id and resume URL, if it is still session number `number`.
    public func session(ifNumbered number: Int) -> (id: String, resumeURL: String)? {
        guard number == sessionNumber, let id = machine.sessionID, let url = machine.resumeURL else { return nil }
        return (id, url)
    }

    /// Whether the shard is connected and past READY or RESUMED now.
    public var isReady: Bool { machine.isReady }

    /// The consumer's work is durable up to dispatch `sequence` of session `session` (as stamped
    /// on ``ShardDispatch/session``); a mark for an earlier session is ignored.
    public func markDurable(session: Int, sequence: Int) {
        guard session == sessionNumber else { return }
        durableSequence = max(durableSequence ?? 0, sequence)
    }

    /// Runs the shard until it stops for good (a fatal close code, or ``shutdown()``), handing each
    /// dispatch to `consume` in order. Returns why it stopped.
    public func run(_ consume: @Sendable (ShardDispatch) async -> Void) async -> ShardStateMachine.StopReason {
        var pending = machine.start()
        while true {
            // A cancelled task stops the shard as a shutdown would (the session stays resumable).
            if Task.isCancelled {
                _ = machine.shutdown()
                return stopReason ?? .shutdown
            }
            guard let action = pending.first else { return stopReason ?? .shutdown }
            pending.removeFirst()
            switch action {
            case .connect(let url, let delay):
                if let stopReason { return stopReason }
                if delay > 0 { await backOff(seconds: delay) }
                if let stopReason { return stopReason }
                dropRequested = false
                if let connectGate, await !connectGate() {
                    _ = machine.shutdown()
                    return stopReason ?? .shutdown
                }
                if let stopReason { return stopReason }
                let code: UInt16?
                do {
                    let connection: GatewayWebSocket
                    do {
                        connection = try await connect(to: url)
                        connectFailuresInARow = 0
                    } catch {
                        // Not a failure to report: a stop, or a drop asked while it connected (a lease lost).
                        if stopReason == nil, !Task.isCancelled, !dropRequested, !(error is CancellationError) {
                            connectFailuresInARow += 1
                            connectFailed?(error, connectFailuresInARow)
                        }
                        throw error
                    }
                    if let stopReason {
                        // Shut down while connecting: the new connection must not linger until
                        // Discord's heartbeat deadline closes it.
                        connection.close()
                        return stopReason
                    }
                    connections += 1
                    if dropRequested {
                        // Dropped while it was being made, or before: through the gate again.
                        connection.close()
                        code = nil
                    } else {
                        // No suspension before `serve` installs the socket: a drop from now on closes it.
                        code = await serve(connection, consume)
                    }
                } catch {
                    code = nil
                }
                pending = machine.closed(code: code, jitter: Double.random(in: 0..<1)) + pending
            case .stop(let reason):
                stopReason = stopReason ?? reason
                return stopReason ?? reason
            default:
                // Everything else belongs to a live connection; none is left when it closed.
                continue
            }
        }
    }

    /// Stops the shard; its session stays resumable (closed with 4000, not 1000).
    public func shutdown() async {
        let actions = machine.shutdown()
        for action in actions {
            if case .stop(let reason) = action { stopReason = reason }
        }
        identifyWait?.cancel()
        backoffWait?.cancel()
        connectAttempt?.cancel()
        await execute(actions.filter { if case .stop = $0 { return false } else { return true } })
        socket?.close()
    }

    /// Ends the live connection (or the one being made) as a network failure would: the shard
    /// reconnects through its connect gate and resumes from the last dispatch it delivered — its
    /// session, and what its consumer holds of it, go on as after any drop.
    public func dropConnection() {
        dropRequested = true
        connectAttempt?.cancel()
        socket?.close()
    }

    /// Connects to `url`, unless the shard is shut down or its task cancelled first.
    private func connect(to url: String) async throws -> GatewayWebSocket {
        let (query, maxMessageBytes, timeout) = (configuration.query, configuration.messageLimit, configuration.helloTimeout)
        let attempt = Task {
            try await GatewayWebSocket.connect(to: url, path: query, maxMessageBytes: maxMessageBytes, timeout: timeout)
        }
        connectAttempt = attempt
        defer { connectAttempt = nil }
        return try await withTaskCancellationHandler {
            try await attempt.value
        } onCancel: {
            attempt.cancel()
        }
    }

    /// Sleeps out a reconnect backoff, unless the shard is shut down or its task cancelled first.
    private func backOff(seconds: Double) async {
        let wait = Task { _ = try? await Task.sleep(for: .seconds(seconds)) }
        backoffWait = wait
        await withTaskCancellationHandler {
            await wait.value
        } onCancel: {
            wait.cancel()
        }
        backoffWait = nil
    }

    /// One connection: frames in, actions out, heartbeats beside. Returns the close code Discord
    /// sent, or nil when the connection ended without one.
    private func serve(_ connection: GatewayWebSocket, _ consume: @Sendable (ShardDispatch) async -> Void) async -> UInt16? {
        inflater.reset()
        // Discord counts sends per connection: a new connection starts with the whole allowance.
        sendLimiter = GatewaySendLimiter()
        nextHeartbeat = nil
        socket = connection
        _ = machine.connected()
        var closeCode: UInt16?
        // Identify requests are served beside the frame loop: a shard can wait minutes for its
        // turn, and meanwhile it must keep reading (heartbeat ACKs, op 1, op 7) or its own
        // heartbeats would declare the connection a zombie.
        let (identifyRequests, requestIdentify) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        identifyRequest = requestIdentify
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.beat() }
            group.addTask {
                for await _ in identifyRequests { await self.identifyWhenAllowed() }
            }
            do {
                frames: for try await read in connection.frames {
                    for frame in read {
                        connection.flow.consumed(connection.channel, bytes: frame.length)
                        switch frame.opcode {
                        case .binary, .text:
                            if await !receive(frame.data, consume) {
                                // Corrupt compression or JSON: drop the connection (and what the read
                                // brought after it), resume on a new one — unless it keeps breaking
                                // at the same point.
                                machine.streamBroken()
                                connection.close()
                                break frames
                            }
                        case .connectionClose:
                            // A body too short for a code (one byte) is a close without one. Nothing
                            // after a close is the server's traffic (RFC 6455 §5.5.1): not handled —
                            // a dispatch there is resumed from, not delivered.
                            closeCode = frame.data.getInteger(at: frame.data.readerIndex, as: UInt16.self)
                            connection.close()
                            break frames
                        case .ping:
                            // RFC 6455 §5.5.2: a pong with the ping's bytes (at most 125, the reader
                            // saw to that). Not a gateway payload: Discord's send limit does not count it.
                            connection.write(WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.data))
                        default:
                            break
                        }
                    }
                }
            } catch where error is GatewayFrameReader.Failure {
                // A frame that cannot be read (over the size limit, a malformed control frame): a
                // broken stream like a corrupt message, so a session that replays it for ever is given up.
                machine.streamBroken()
            } catch {}
            group.cancelAll()
        }
        connection.close()
        socket = nil
        nextHeartbeat = nil
        identifyRequest = nil
        requestIdentify.finish()
        return closeCode
    }

    /// Handles one message; false when the stream is broken (corrupt compression or JSON): the
    /// connection must be dropped and the session resumed on a fresh one.
    private func receive(_ message: ByteBuffer, _ consume: @Sendable (ShardDispatch) async -> Void) async -> Bool {
        var dispatch: ShardDispatch?
        var actions: [ShardStateMachine.Action] = []
        let ok: Bool = message.withUnsafeReadableBytes { bytes in
            let payload: UnsafeRawBufferPointer?
            do {
                payload = try inflater.inflate(bytes)
            } catch {
                return false
            }
            // A zlib message may span frames: nothing to do until its last one.
            guard let payload else { return true }
            return handle(payload, &actions, &dispatch)
        }
        // A dispatch's only action is to deliver it: no call (and async frame) for that.
        if actions.contains(where: { $0 != .deliver }) { await execute(actions) }
        if let dispatch {
            consuming = true
            await consume(dispatch)
            consuming = false
            if let sequence = dispatch.sequence { deliveredSequence = sequence }
        }
        return ok
    }

    /// Sends a payload as a masked text frame, within the 120-per-minute limit (heartbeats have
    /// reserved slots). False when it was not written because the connection ended first; true once
    /// the write was attempted (a write that fails may still have reached the other side).
    @discardableResult
    func send(_ payload: String, isHeartbeat: Bool) async -> Bool {
        while let wait = sendLimiter.admit(isHeartbeat: isHeartbeat, now: secondsSinceStart) {
            try? await Task.sleep(for: .seconds(max(0, wait - secondsSinceStart)))
            if Task.isCancelled || socket == nil { return false }
        }
        guard let socket else { return false }
        let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: socket.channel.allocator.buffer(string: payload))
        socket.write(frame)
        return true
    }

    /// Closes the connection with a close frame carrying `code`, then the socket.
    func closeConnection(code: UInt16) async {
        guard let socket else { return }
        var data = socket.channel.allocator.buffer(capacity: 2)
        data.writeInteger(code)
        socket.write(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data))
        socket.close()
    }

    func stop(_ reason: ShardStateMachine.StopReason) async {
        stopReason = stopReason ?? reason
        socket?.close()
    }

    var secondsSinceStart: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}
