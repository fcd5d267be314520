import DiscordModels
import Foundation
import NIOCore
import NIOWebSocket

/// The gateway protocol as the shard speaks it: reading payloads into state-machine inputs, and
/// carrying out the machine's actions on the socket.
extension ShardConnection {
    /// Reads one payload; false when it is not a gateway payload (the stream is broken).
    func handle(
        _ payload: UnsafeRawBufferPointer, _ actions: inout [ShardStateMachine.Action], _ dispatch: inout ShardDispatch?
    ) -> Bool {
        guard let envelope = try? GatewayEnvelope.peek(payload) else { return false }
        let data = envelope.dataRange.map { UnsafeRawBufferPointer(rebasing: payload[$0]) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
        switch envelope.opcode {
        case .hello:
            guard let interval = try? GatewayPayloads.heartbeatInterval(in: data),
                  (1...ShardStateMachine.heartbeatIntervalLimitMilliseconds).contains(interval)
            else { return false }
            actions = machine.hello(intervalMilliseconds: interval, jitter: Double.random(in: 0..<1))
        case .heartbeatAck:
            actions = machine.heartbeatAcknowledged()
        case .heartbeat:
            actions = machine.heartbeatRequested(now: secondsSinceStart)
        case .reconnect:
            actions = machine.reconnectRequested()
        case .invalidSession:
            actions = machine.invalidSession(resumable: GatewayPayloads.isResumable(data))
        case .dispatch:
            guard let name = envelope.eventName, envelope.dataRange != nil else { return false }
            var session: (id: String?, resumeURL: String?) = (nil, nil)
            if name == "READY" {
                guard let read = try? GatewayPayloads.session(in: data) else { return false }
                session = read
                // A new session: nothing of it is durable yet (a restart resumes it from its start).
                sessionNumber = ShardConnection.sessionNumbers.add(1, ordering: .relaxed).newValue
                durableSequence = nil
                deliveredSequence = nil
                sessionTag = session.id.map(SessionTag.of) ?? 0
            }
            actions = machine.dispatch(name: name, sequence: envelope.sequence, sessionID: session.id, resumeURL: session.resumeURL)
            // Past its RESUMED, a restored session sends only what no earlier process received
            // (a resume after a later drop starts from what this one received).
            if name == "READY" || name == "RESUMED" { replayingSavedSession = false }
            if actions.contains(.deliver) {
                dispatch = ShardDispatch(envelope: envelope, payload: payload, reusing: &payloadStorage)
                dispatch?.session = sessionNumber
                dispatch?.sessionTag = sessionTag
                dispatch?.mayBeApplied = replayingSavedSession
            }
        default:
            break
        }
        return true
    }

    /// Carries out the machine's actions on the live connection.
    func execute(_ actions: [ShardStateMachine.Action]) async {
        for action in actions {
            switch action {
            case .scheduleHeartbeat(let delay):
                nextHeartbeat = ContinuousClock.now + .nanoseconds(Int64(delay * 1e9))
            case .requestIdentify:
                identifyRequest?.yield()
            case .sendIdentify:
                if await send(identifyPayload, isHeartbeat: false) {
                    identifyBreaker.record(at: .now)
                    identifies += 1
                    await identifyGate.identifySent(shard: configuration.shardID)
                } else {
                    await identifyGate.identifyNotSent(shard: configuration.shardID)
                }
            case .sendResume(let sessionID, let sequence):
                resumes += 1
                await send(#"{"op":6,"d":{"token":\#(jsonString(configuration.token)),"session_id":\#(jsonString(sessionID)),"seq":\#(sequence)}}"#, isHeartbeat: false)
            case .sendHeartbeat(let sequence):
                await send(#"{"op":1,"d":\#(sequence.map(String.init) ?? "null")}"#, isHeartbeat: true)
            case .close(let code):
                await closeConnection(code: code)
            case .stop(let reason):
                await stop(reason)
            case .connect, .deliver:
                break
            }
        }
    }

    /// Waits for this shard's identify turn, then identifies — unless the identify circuit is open
    /// or the gate refuses, which stop the shard. Runs beside the frame loop of the connection.
    func identifyWhenAllowed() async {
        if !identifyBreaker.allows(at: .now) {
            await stop(.identifyLoop(count: identifyBreaker.limit.count, period: identifyBreaker.limit.period))
            return
        }
        do {
            try await waitForIdentifyTurn()
        } catch let refused as IdentifyRefused {
            // Refused (the session budget guard): stop rather than burn the token.
            await stop(.identifyRefused(reason: refused.reason, retryAfter: refused.retryAfter))
            return
        } catch {
            // The connection ended (or the shard is shutting down) while waiting: nothing to stop;
            // the next connection asks again.
            if Task.isCancelled || stopReason != nil { return }
            await stop(.identifyRefused(reason: "\(error)", retryAfter: nil))
            return
        }
        // The turn may come just as the connection ends, or after an op 7 or 9: identify on the
        // next connection instead, and give back what the turn cost.
        let actions = Task.isCancelled || socket == nil ? [] : machine.identifyAllowed()
        guard actions.contains(.sendIdentify) else {
            await identifyGate.identifyNotSent(shard: configuration.shardID)
            return
        }
        await execute(actions)
    }

    /// Waits for the identify gate in a task ``shutdown()`` can cancel: a shard may wait many
    /// identify windows for its turn, and shutting down must not wait with it.
    private func waitForIdentifyTurn() async throws {
        let gate = identifyGate
        let shard = configuration.shardID
        let waiter = Task { try await gate.waitForTurn(shard: shard) }
        identifyWait = waiter
        defer { identifyWait = nil }
        try await withTaskCancellationHandler {
            try await waiter.value
        } onCancel: {
            waiter.cancel()
        }
    }

    /// The heartbeat timer of one connection: sleeps until the next beat is due, then asks the
    /// machine. Ends when the connection's task group is cancelled.
    func beat() async {
        let helloDeadline = ContinuousClock.now + configuration.helloTimeout
        while !Task.isCancelled {
            guard let due = nextHeartbeat else {
                if machine.isAwaitingHello, ContinuousClock.now > helloDeadline {
                    // Discord says Hello at once; a connection that does not is dead: reconnect.
                    socket?.close()
                    return
                }
                try? await Task.sleep(for: .milliseconds(20))
                continue
            }
            if ContinuousClock.now < due {
                try? await Task.sleep(until: due, clock: .continuous)
                continue
            }
            nextHeartbeat = nil
            await execute(machine.heartbeatDue(readingHeldBack: consuming))
        }
    }

    var identifyPayload: String {
        let d = #"{"token":\#(jsonString(configuration.token)),"intents":\#(configuration.intents.rawValue),"shard":[\#(configuration.shardID),\#(configuration.shardCount)],"large_threshold":\#(configuration.largeThreshold),"properties":{"os":"linux","browser":"kamii","device":"kamii"}}"#
        return #"{"op":2,"d":\#(d)}"#
    }

    func jsonString(_ text: String) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
