import Testing
@testable import DiscordGateway

/// An identify or a resume Discord never answers (heartbeats still acknowledged) does not hold a
/// shard for ever: by the second heartbeat after it went out the connection is made again. A
/// resume Discord cuts with op 7 is neither unanswered nor fruitless.
struct ShardHandshakeTimeoutTests {
    /// Connected and said Hello (interval 40 s): the machine asks for an identify turn.
    func helloed(_ machine: inout ShardStateMachine) -> [ShardStateMachine.Action] {
        _ = machine.start()
        _ = machine.connected()
        return machine.hello(intervalMilliseconds: 40_000, jitter: 0.25)
    }

    /// Session s1 at sequence 1, reconnected (op 7): its Hello will send a resume.
    func reconnectedWithASession() -> ShardStateMachine {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        _ = helloed(&machine)
        _ = machine.identifyAllowed()
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s1", resumeURL: "wss://resume.example")
        _ = machine.reconnectRequested()
        _ = machine.closed(code: nil, jitter: 0.5)
        _ = machine.connected()
        return machine
    }

    /// A beat and its ACK; returns the beat's actions.
    func beat(_ machine: inout ShardStateMachine) -> [ShardStateMachine.Action] {
        let actions = machine.heartbeatDue()
        _ = machine.heartbeatAcknowledged()
        return actions
    }

    @Test func anUnansweredIdentifyIsMadeAgain() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        #expect(helloed(&machine).last == .requestIdentify)
        // Waiting for the identify queue's turn (minutes, for thousands of shards) awaits nothing.
        for _ in 0..<5 { #expect(beat(&machine) == [.sendHeartbeat(sequence: nil), .scheduleHeartbeat(delay: 40)]) }
        #expect(machine.identifyAllowed() == [.sendIdentify])
        #expect(beat(&machine) == [.sendHeartbeat(sequence: nil), .scheduleHeartbeat(delay: 40)])
        #expect(beat(&machine) == [.close(code: 4000)])
        #expect(machine.handshakesUnanswered == 1)
        #expect(machine.closed(code: nil, jitter: 0.5) == [.connect(url: "wss://gateway.example", delay: 0)])
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0.25).last == .requestIdentify, "identifies again: no session")
    }

    @Test func anIdentifyAnsweredInTimeIsKept() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        _ = helloed(&machine)
        _ = machine.identifyAllowed()
        _ = beat(&machine)
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s1", resumeURL: "wss://resume.example")
        for _ in 0..<5 { #expect(beat(&machine) == [.sendHeartbeat(sequence: 1), .scheduleHeartbeat(delay: 40)]) }
        #expect(machine.isReady && machine.handshakesUnanswered == 0)
    }

    /// A resume is answered by its replay before RESUMED: each replayed dispatch is progress. One
    /// answered by nothing is made again, and resumes.
    @Test func anUnansweredResumeIsMadeAgainAndAReplayIsProgress() {
        var machine = reconnectedWithASession()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0.25).last == .sendResume(sessionID: "s1", sequence: 1))
        _ = beat(&machine)
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 2)
        _ = beat(&machine)
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 3)
        #expect(beat(&machine) == [.sendHeartbeat(sequence: 3), .scheduleHeartbeat(delay: 40)], "the replay goes on")
        #expect(beat(&machine) == [.close(code: 4000)])
        #expect(machine.handshakesUnanswered == 1)
        guard case .connect(let url, _)? = machine.closed(code: nil, jitter: 0.5).last else {
            Issue.record("no reconnect")
            return
        }
        #expect(url == "wss://resume.example", "resumes again")
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0.25).last == .sendResume(sessionID: "s1", sequence: 3))
    }

    /// While the consumer holds the frame loop (a full stats buffer), the resume's answer may be
    /// there unread: beats then judge nothing; once reading resumes, the rule applies again.
    @Test func aResumeIsNotJudgedWhileReadingIsHeldBack() {
        var machine = reconnectedWithASession()
        _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0.25)
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 2)
        for _ in 0..<5 {
            #expect(machine.heartbeatDue(readingHeldBack: true) == [.sendHeartbeat(sequence: 2), .scheduleHeartbeat(delay: 40)])
            _ = machine.heartbeatAcknowledged()
        }
        #expect(machine.handshakesUnanswered == 0)
        #expect(beat(&machine) == [.sendHeartbeat(sequence: 2), .scheduleHeartbeat(delay: 40)])
        #expect(beat(&machine) == [.close(code: 4000)])
    }

    /// Op 7 right after each resume (a gateway draining its nodes) is Discord moving the
    /// connection, not a resume that came to nothing: the session is kept however often it comes.
    @Test func reconnectsAskedForDuringResumesKeepTheSession() {
        var machine = reconnectedWithASession()
        for _ in 0..<5 {
            #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0.25).last == .sendResume(sessionID: "s1", sequence: 1))
            #expect(machine.reconnectRequested() == [.close(code: 4000)])
            _ = machine.closed(code: nil, jitter: 0.5)
            _ = machine.connected()
        }
        #expect(machine.sessionsUnresumable == 0 && machine.sessionID == "s1")
    }

    /// A resume that replayed something before Discord's op 7 was getting somewhere: the count of
    /// resumes that came to nothing starts again, as a close would have it.
    @Test func aReplayBeforeAReconnectStartsTheCountAgain() {
        var machine = reconnectedWithASession()
        func resume(_ end: (inout ShardStateMachine) -> Void) {
            _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0.25)
            end(&machine)
            _ = machine.closed(code: nil, jitter: 0.5)
            _ = machine.connected()
        }
        resume { _ in }
        resume { _ in }
        resume { machine in
            _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 2)
            _ = machine.reconnectRequested()
        }
        resume { _ in }
        #expect(machine.sessionsUnresumable == 0 && machine.sessionID == "s1")
    }
}
