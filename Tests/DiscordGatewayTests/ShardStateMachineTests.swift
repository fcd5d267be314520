import Testing
@testable import DiscordGateway

/// The gateway lifecycle rules, at given jitter: heartbeats, zombies, op 1/7/9, close codes,
/// backoff, resume on the resume URL.
struct ShardStateMachineTests {
    func readyMachine() -> ShardStateMachine {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        _ = machine.start()
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0.25)
        _ = machine.identifyAllowed()
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s1", resumeURL: "wss://resume.example")
        return machine
    }

    @Test func aHelloIntervalIsHeldWithinTheLimit() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        _ = machine.start()
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: Int.max, jitter: 0.5) == [.scheduleHeartbeat(delay: 1_800), .requestIdentify])
    }

    @Test func helloSchedulesAJitteredFirstBeatAndAsksForAnIdentifySlot() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example")
        #expect(machine.start() == [.connect(url: "wss://gateway.example", delay: 0)])
        #expect(machine.connected().isEmpty)
        #expect(machine.hello(intervalMilliseconds: 41_250, jitter: 0.5) == [.scheduleHeartbeat(delay: 20.625), .requestIdentify])
        #expect(machine.identifyAllowed() == [.sendIdentify])
        #expect(machine.dispatch(name: "READY", sequence: 1, sessionID: "s1", resumeURL: "wss://r") == [.deliver])
        #expect(machine.isReady && machine.sessionID == "s1" && machine.sequence == 1)
    }

    /// Where the first `connect` of `actions` goes.
    func connectURL(_ actions: [ShardStateMachine.Action]) -> String? {
        for action in actions { if case .connect(let url, _) = action { return url } }
        return nil
    }

    /// Op 7 "can occur at any point … even before/in place of receiving a Hello": the shard closes
    /// and resumes at once instead of waiting for a Hello that will not come.
    @Test func aReconnectBeforeHelloIsFollowed() {
        var machine = readyMachine()
        _ = machine.reconnectRequested()
        _ = machine.closed(code: nil, jitter: 0.5)
        _ = machine.connected()
        #expect(machine.isAwaitingHello)
        #expect(machine.reconnectRequested() == [.close(code: 4000)])
        #expect(connectURL(machine.closed(code: nil, jitter: 0.5)) == "wss://resume.example")
    }

    /// A 4009 (session timed out) or 4007 that answers a close of ours still ends the session:
    /// the next connection identifies instead of trying a resume bound to fail.
    @Test func aSessionEndingCodeCountsEvenAfterOurOwnClose() {
        var machine = readyMachine()
        _ = machine.heartbeatDue()
        #expect(machine.heartbeatDue() == [.close(code: 4000)])
        #expect(connectURL(machine.closed(code: 4009, jitter: 0.5)) == "wss://gateway.example")
        #expect(machine.sessionID == nil)
    }

    /// A message that cannot be read is replayed by every resume: after three breaks at the same
    /// point the session is given up and the next connection identifies; breaks at different
    /// points are resumed each time.
    @Test func aMessageThatNeverReadsEndsTheSessionNotTheShard() {
        var machine = readyMachine()
        func breakAndReconnect() -> String? {
            machine.streamBroken()
            let url = connectURL(machine.closed(code: nil, jitter: 0.5))
            _ = machine.connected()
            _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0)
            if machine.sessionID != nil { _ = machine.dispatch(name: "RESUMED", sequence: nil) } else { _ = machine.identifyAllowed() }
            return url
        }
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 5)
        #expect(breakAndReconnect() == "wss://resume.example")
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 6)
        #expect(breakAndReconnect() == "wss://resume.example", "a break further on starts the count again")
        #expect(breakAndReconnect() == "wss://resume.example")
        #expect(machine.sessionsAbandoned == 0)
        #expect(breakAndReconnect() == "wss://gateway.example", "the third break at 6: a new session")
        #expect(machine.sessionsAbandoned == 1 && machine.sessionID == nil)
    }

    /// A session Discord invalidated may answer every resume by closing (4003 "this session has
    /// been invalidated", 4000, no code) or op 9 `true`: after three resumes in a row that came to
    /// nothing the shard identifies, as Discord asks when "the reconnect fails". One that replayed
    /// something before it was cut starts the count again.
    @Test func resumesThatComeToNothingEndTheSession() {
        var machine = readyMachine()
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 5)
        /// One resume, ended as `end` says; where the connection after it goes.
        func resume(replaying replayed: Int? = nil, _ end: (inout ShardStateMachine) -> [ShardStateMachine.Action]) -> String? {
            _ = machine.connected()
            #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .sendResume(sessionID: "s1", sequence: machine.sequence ?? -1))
            if let replayed { _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: replayed) }
            return connectURL(end(&machine))
        }
        #expect(connectURL(machine.closed(code: nil, jitter: 0.5)) == "wss://resume.example")
        #expect(resume { $0.closed(code: 4003, jitter: 0.5) } == "wss://resume.example")
        #expect(resume(replaying: 6) { $0.closed(code: nil, jitter: 0.5) } == "wss://resume.example", "a replay started: the count starts again")
        #expect(resume { $0.closed(code: 4000, jitter: 0.5) } == "wss://resume.example")
        let afterOp9 = resume { machine in
            #expect(machine.invalidSession(resumable: true) == [.close(code: 4000)])
            return machine.closed(code: nil, jitter: 0.5)
        }
        #expect(afterOp9 == "wss://resume.example")
        #expect(machine.sessionsUnresumable == 0 && machine.sessionID == "s1")
        #expect(resume { $0.closed(code: nil, jitter: 0.5) } == "wss://gateway.example", "the third in a row: a new session")
        #expect(machine.sessionsUnresumable == 1 && machine.sessionID == nil)
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .requestIdentify)

        // A resume that goes through clears the count.
        var resumed = readyMachine()
        for _ in 0..<2 {
            _ = resumed.closed(code: nil, jitter: 0.5)
            _ = resumed.connected()
            _ = resumed.hello(intervalMilliseconds: 40_000, jitter: 0)
        }
        _ = resumed.dispatch(name: "RESUMED", sequence: nil)
        for _ in 0..<2 {
            _ = resumed.closed(code: nil, jitter: 0.5)
            _ = resumed.connected()
            #expect(resumed.hello(intervalMilliseconds: 40_000, jitter: 0).last == .sendResume(sessionID: "s1", sequence: 1))
        }
        #expect(connectURL(resumed.closed(code: nil, jitter: 0.5)) == "wss://resume.example")
        #expect(resumed.sessionsUnresumable == 0)
    }

    @Test func heartbeatsCarryTheLastSequenceAndAMissingAckIsAZombie() {
        var machine = readyMachine()
        _ = machine.dispatch(name: "MESSAGE_CREATE", sequence: 7)
        #expect(machine.heartbeatDue() == [.sendHeartbeat(sequence: 7), .scheduleHeartbeat(delay: 40)])
        _ = machine.heartbeatAcknowledged()
        #expect(machine.heartbeatDue() == [.sendHeartbeat(sequence: 7), .scheduleHeartbeat(delay: 40)])
        // The consumer holds reading back: the ACK may be unread, so beats go on, no verdict.
        #expect(machine.heartbeatDue(readingHeldBack: true) == [.sendHeartbeat(sequence: 7), .scheduleHeartbeat(delay: 40)])
        // No ACK before the next beat: close resumably, then resume on the resume URL.
        #expect(machine.heartbeatDue() == [.close(code: 4000)])
        #expect(machine.closed(code: 4000, jitter: 0.5) == [.connect(url: "wss://resume.example", delay: 0)])
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0) == [.scheduleHeartbeat(delay: 0), .sendResume(sessionID: "s1", sequence: 7)])
        #expect(machine.dispatch(name: "RESUMED", sequence: nil) == [.deliver])
        #expect(machine.isReady)
    }

    @Test func opcodesOneSevenAndNine() {
        var machine = readyMachine()
        #expect(machine.heartbeatRequested(now: 100) == [.sendHeartbeat(sequence: 1)])
        // A flood of op 1 is answered once per spacing, not once each.
        #expect(machine.heartbeatRequested(now: 100.5) == [] && machine.heartbeatRequested(now: 104.9) == [])
        #expect(machine.heartbeatRequested(now: 105) == [.sendHeartbeat(sequence: 1)])
        #expect(machine.reconnectRequested() == [.close(code: 4000)])
        #expect(machine.closed(code: 4000, jitter: 0) == [.connect(url: "wss://resume.example", delay: 0)])
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0)
        _ = machine.dispatch(name: "RESUMED", sequence: nil)
        #expect(machine.heartbeatRequested(now: 106) == [.sendHeartbeat(sequence: 1)], "a new connection's op 1, answered")
        // Op 9 true: resume again (after a backoff: the session has not proved healthy since).
        #expect(machine.invalidSession(resumable: true) == [.close(code: 4000)])
        #expect(machine.closed(code: nil, jitter: 0) == [.connect(url: "wss://resume.example", delay: 0.5)])
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .sendResume(sessionID: "s1", sequence: 1))
        // Op 9 false: the session is gone; identify on the main gateway.
        #expect(machine.invalidSession(resumable: false) == [.close(code: 4000)])
        #expect(machine.sessionID == nil && machine.sequence == nil)
        let reconnect = machine.closed(code: 4000, jitter: 0.9)
        guard case .connect(let url, let delay)? = reconnect.first else {
            Issue.record("expected a reconnect, got \(reconnect)")
            return
        }
        // Discord asks for a random 1–5 s before the fresh identify (here 1 + 4 × 0.9; the backoff
        // alone would be 2.8).
        #expect(url == "wss://gateway.example" && abs(delay - 4.6) < 1e-9, "\(delay)")
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .requestIdentify)
    }

    @Test(arguments: [UInt16(4004), 4010, 4011, 4012, 4013, 4014])
    func fatalCloseCodesStopTheShardWithAReason(_ code: UInt16) {
        var machine = readyMachine()
        let actions = machine.closed(code: code, jitter: 0)
        guard case .stop(.closed(let stoppedCode, let reason))? = actions.first, actions.count == 1 else {
            Issue.record("expected a stop, got \(actions)")
            return
        }
        #expect(stoppedCode == code && !reason.isEmpty)
        #expect(machine.isStopped)
        #expect(machine.closed(code: 1006, jitter: 0).isEmpty, "a stopped shard never reconnects")
    }

    @Test func sessionTimeoutsIdentifyAgainAndOtherClosesResume() {
        var machine = readyMachine()
        #expect(machine.closed(code: 4009, jitter: 0) == [.connect(url: "wss://gateway.example", delay: 0)])
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .requestIdentify)
        _ = machine.identifyAllowed()
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s2", resumeURL: "wss://resume.example")
        // The second close since the last healthy session: a backoff (base 1 s × jitter 0.5).
        #expect(machine.closed(code: 4000, jitter: 0) == [.connect(url: "wss://resume.example", delay: 0.5)])
    }

    func delay(_ actions: [ShardStateMachine.Action]) -> Double? {
        if case .connect(_, let delay)? = actions.first { delay } else { nil }
    }

    @Test func failedConnectionsBackOffExponentiallyCappedAndAHealthySessionResetsIt() {
        var machine = ShardStateMachine(gatewayURL: "wss://g", backoffBase: 1, backoffCap: 8)
        _ = machine.start()
        let delays = (0..<7).map { _ in delay(machine.closed(code: nil, jitter: 0.5)) }
        #expect(delays == [0, 1, 2, 4, 8, 8, 8])
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 10_000, jitter: 0)
        _ = machine.identifyAllowed()
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s", resumeURL: "wss://r")
        // Ready, with two heartbeats acknowledged (20 s): not yet proved healthy.
        for _ in 0..<2 {
            _ = machine.heartbeatDue()
            _ = machine.heartbeatAcknowledged()
        }
        #expect(delay(machine.closed(code: nil, jitter: 0.5)) == 8)
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 10_000, jitter: 0)
        _ = machine.dispatch(name: "RESUMED", sequence: nil)
        for _ in 0..<3 {
            _ = machine.heartbeatDue()
            _ = machine.heartbeatAcknowledged()
        }
        #expect(delay(machine.closed(code: nil, jitter: 0.5)) == 0, "30 s of acknowledged heartbeats: healthy")
    }

    @Test func aGatewayThatResumesThenDropsEveryConnectionIsBackedOffFrom() {
        var machine = readyMachine()
        var delays: [Double?] = []
        for _ in 0..<6 {
            delays.append(delay(machine.closed(code: nil, jitter: 0.5)))
            _ = machine.connected()
            #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0.5).last == .sendResume(sessionID: "s1", sequence: 1))
            _ = machine.dispatch(name: "RESUMED", sequence: nil)
        }
        #expect(delays == [0, 1, 2, 4, 8, 16], "RESUMED alone does not reset the backoff")
    }

    @Test func aReadyWithoutASessionIsABrokenStream() {
        for session in [nil, ""] {
            var machine = ShardStateMachine(gatewayURL: "wss://g")
            _ = machine.start()
            _ = machine.connected()
            _ = machine.hello(intervalMilliseconds: 40_000, jitter: 0)
            _ = machine.identifyAllowed()
            #expect(machine.dispatch(name: "READY", sequence: 1, sessionID: session, resumeURL: "wss://r") == [.close(code: 4000)])
            #expect(machine.sessionID == nil && !machine.isReady)
            #expect(machine.closed(code: nil, jitter: 0) == [.connect(url: "wss://g", delay: 0)])
            _ = machine.connected()
            #expect(machine.hello(intervalMilliseconds: 40_000, jitter: 0).last == .requestIdentify, "nothing to resume: identify")
        }
    }

    @Test func aResumedSessionKeepsTheConfiguredBackoff() {
        var machine = ShardStateMachine(
            gatewayURL: "wss://g", resuming: "s", sequence: 3, resumeURL: "wss://r", backoffBase: 5, backoffCap: 7)
        _ = machine.start()
        let delays = (0..<4).map { _ in delay(machine.closed(code: nil, jitter: 0.5)) }
        #expect(delays == [0, 5, 7, 7])
    }

    @Test func shutdownClosesResumablyAndAStoredSessionResumesAfterARestart() {
        var machine = readyMachine()
        #expect(machine.shutdown() == [.close(code: 4000), .stop(.shutdown)])
        var restarted = ShardStateMachine(gatewayURL: "wss://gateway.example", resuming: "s1", sequence: 42, resumeURL: "wss://resume.example")
        #expect(restarted.start() == [.connect(url: "wss://resume.example", delay: 0)])
        _ = restarted.connected()
        #expect(restarted.hello(intervalMilliseconds: 40_000, jitter: 0).last == .sendResume(sessionID: "s1", sequence: 42))
    }

    @Test func theSendLimitKeepsSlotsForHeartbeats() {
        var limiter = GatewaySendLimiter(limit: 10, window: 60, reservedForHeartbeats: 3)
        for second in 0..<7 { #expect(limiter.admit(isHeartbeat: false, now: Double(second)) == nil) }
        #expect(limiter.admit(isHeartbeat: false, now: 7) == 60, "the eighth ordinary send waits for the first to leave the window")
        for second in 7..<10 { #expect(limiter.admit(isHeartbeat: true, now: Double(second)) == nil) }
        #expect(limiter.admit(isHeartbeat: true, now: 10) == 60)
        #expect(limiter.admit(isHeartbeat: true, now: 60) == nil, "the first send left the window")
        // Sends at 4…9 and 60 fill the seven ordinary slots until the one at 4 leaves.
        #expect(limiter.admit(isHeartbeat: false, now: 63) == 64)
    }
}

struct ShardStateMachineResumeURLTests {
    @Test func aSavedResumeURLThatIsGoneFallsBackToTheMainGateway() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example", resuming: "s1", sequence: 9, resumeURL: "wss://gone.example")
        #expect(machine.start() == [.connect(url: "wss://gone.example", delay: 0)])
        // Two refused connections: still the resume URL.
        for _ in 0..<2 {
            guard case .connect(let url, _)? = machine.closed(code: nil, jitter: 0).last else { Issue.record("no reconnect"); return }
            #expect(url == "wss://gone.example")
        }
        // The third: the main gateway, and the session is still offered there.
        guard case .connect(let url, _)? = machine.closed(code: nil, jitter: 0).last else { Issue.record("no reconnect"); return }
        #expect(url == "wss://gateway.example")
        _ = machine.connected()
        #expect(machine.hello(intervalMilliseconds: 1_000, jitter: 0).contains(.sendResume(sessionID: "s1", sequence: 9)))
    }
}

struct IdentifyCircuitBreakerTests {
    @Test func moreIdentifiesThanTheLimitWithinItsPeriodAreRefused() {
        var breaker = IdentifyCircuitBreaker(limit: .init(count: 3, period: .seconds(60)))
        let start = ContinuousClock.now
        for minute in 0..<3 {
            let allowed = breaker.allows(at: start + .seconds(minute * 10))
            #expect(allowed)
            breaker.record(at: start + .seconds(minute * 10))
        }
        let fourth = breaker.allows(at: start + .seconds(30))
        #expect(!fourth, "a fourth within the minute")
        // The first identify leaves the period at 60 s: one more is allowed.
        let later = breaker.allows(at: start + .seconds(60))
        #expect(later)
    }
}

extension ShardStateMachineResumeURLTests {
    @Test func aResumeURLThatAnswersAgainIsUsedAgain() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example", resuming: "s1", sequence: 9, resumeURL: "wss://flaky.example")
        _ = machine.start()
        for _ in 0..<3 { _ = machine.closed(code: nil, jitter: 0) }  // three blips: the main gateway next
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 1_000, jitter: 0)
        _ = machine.dispatch(name: "RESUMED", sequence: 10)
        // A drop: back to the main gateway (the resume URL has not answered since).
        guard case .connect(let url, _)? = machine.closed(code: 4000, jitter: 0).last else { Issue.record("no reconnect"); return }
        #expect(url == "wss://gateway.example")
        // … until a READY names a resume URL again, which then is used and counted afresh.
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 1_000, jitter: 0)
        _ = machine.invalidSession(resumable: false)
        _ = machine.closed(code: nil, jitter: 0)
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 1_000, jitter: 0)
        _ = machine.identifyAllowed()
        _ = machine.dispatch(name: "READY", sequence: 1, sessionID: "s2", resumeURL: "wss://flaky.example")
        guard case .connect(let next, _)? = machine.closed(code: 4000, jitter: 0).last else { Issue.record("no reconnect"); return }
        #expect(next == "wss://flaky.example")
        // A connection there that reaches Hello resets the count too.
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 1_000, jitter: 0)
        _ = machine.dispatch(name: "RESUMED", sequence: 2)
        for _ in 0..<2 {
            guard case .connect(let again, _)? = machine.closed(code: nil, jitter: 0).last else { Issue.record("no reconnect"); return }
            #expect(again == "wss://flaky.example")
        }
    }
}

extension ShardStateMachineResumeURLTests {
    /// Resumes on the connection the machine is making, then, when `stable`, has 30 s of
    /// heartbeats acknowledged; returns where the reconnect after the next drop goes.
    func resumeThenDrop(_ machine: inout ShardStateMachine, sequence: Int, stable: Bool) -> String? {
        _ = machine.connected()
        _ = machine.hello(intervalMilliseconds: 10_000, jitter: 0)
        _ = machine.dispatch(name: "RESUMED", sequence: sequence)
        for _ in 0..<(stable ? 3 : 0) {
            _ = machine.heartbeatDue()
            _ = machine.heartbeatAcknowledged()
        }
        guard case .connect(let url, _)? = machine.closed(code: 4000, jitter: 0).last else { return nil }
        return url
    }

    /// A network blip fails the main gateway as well as the resume URL: only the resume URL's own
    /// failures count, and once a session has been stable (30 s of acknowledged heartbeats) through
    /// the main gateway, the next resume tries the resume URL again — Discord disconnects sessions
    /// that do not resume there sooner.
    @Test func aBlipDoesNotKeepResumesOffTheResumeURL() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example", resuming: "s1", sequence: 9, resumeURL: "wss://resume.example")
        _ = machine.start()
        for _ in 0..<3 { _ = machine.closed(code: nil, jitter: 0) }  // the resume URL, three times: the main gateway next
        for _ in 0..<2 {
            // The main gateway fails too (the network is down): it stays the main gateway.
            guard case .connect(let url, _)? = machine.closed(code: nil, jitter: 0).last else { Issue.record("no reconnect"); return }
            #expect(url == "wss://gateway.example")
        }
        #expect(resumeThenDrop(&machine, sequence: 10, stable: false) == "wss://gateway.example", "not yet stable: the network may still be failing")
        #expect(resumeThenDrop(&machine, sequence: 11, stable: true) == "wss://resume.example")
    }

    /// A resume URL that alone failed (the main gateway answered at once) is gone, not blipped:
    /// a stable session does not send the next resume back to it.
    @Test func aResumeURLThatAloneFailedStaysGivenUpOn() {
        var machine = ShardStateMachine(gatewayURL: "wss://gateway.example", resuming: "s1", sequence: 9, resumeURL: "wss://gone.example")
        _ = machine.start()
        for _ in 0..<3 { _ = machine.closed(code: nil, jitter: 0) }
        #expect(resumeThenDrop(&machine, sequence: 10, stable: true) == "wss://gateway.example")
    }
}
