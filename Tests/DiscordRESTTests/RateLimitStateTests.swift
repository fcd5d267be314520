import Testing
@testable import DiscordREST

/// The limiter's rules at given times: discovery one at a time, limits per bucket and major
/// parameter, resets only ever pushed later, the sliding global window, 429 scopes.
struct RateLimitStateTests {
    let channelA = Route(.post, "/channels/{channel.id}/messages", ["channel.id": "1"])
    let channelB = Route(.post, "/channels/{channel.id}/messages", ["channel.id": "2"])

    func answer(_ bucket: String = "abc", limit: Int = 2, remaining: Int, resetAfter: Double, status: Int = 200) -> RateLimitState.Answer {
        RateLimitState.Answer(status: status, bucket: bucket, limit: limit, remaining: remaining, resetAfter: resetAfter)
    }

    func proceed(_ state: inout RateLimitState, _ route: Route, at now: Double) -> RateLimitState.Ticket? {
        if case .proceed(let ticket) = state.acquire(route, now: now) { return ticket }
        return nil
    }

    func waitUntil(_ state: inout RateLimitState, _ route: Route, at now: Double) -> Double? {
        if case .wait(let until) = state.acquire(route, now: now) { return until }
        return nil
    }

    func looksAgainAt(_ state: inout RateLimitState, _ route: Route, at now: Double) -> Double? {
        if case .lookAgain(let at) = state.acquire(route, now: now) { return at }
        return nil
    }

    @Test func aRoutesBucketIsDiscoveredByOneRequestAtATime() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        #expect(first.discovering)
        #expect(looksAgainAt(&state, channelB, at: 0.001) != nil, "the same route waits for the discovery")
        state.complete(first, answer(remaining: 1, resetAfter: 5), now: 0.01)
        #expect(state.bucket(of: channelA) == "abc")
        // Channel A has one left; channel B starts a fresh bucket with the known limit of 2.
        #expect(proceed(&state, channelA, at: 0.02) != nil)
        #expect(waitUntil(&state, channelA, at: 0.03) == 5.01)
        #expect(proceed(&state, channelB, at: 0.03) != nil)
        #expect(proceed(&state, channelB, at: 0.03) != nil)
        #expect(waitUntil(&state, channelB, at: 0.03) != nil)
        #expect(proceed(&state, channelA, at: 5.01) != nil, "the window reset")
    }

    /// A request waiting on its route's discovery looks again soon while the discovery is young,
    /// less and less often as it drags on (Discord slow or failing), 50 ms apart at most.
    @Test func looksAtADiscoveryThinOutAsItDragsOn() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 10))
        #expect(looksAgainAt(&state, channelB, at: 10.001) == 10.001 + 0.002)
        #expect(try #require(looksAgainAt(&state, channelB, at: 10.1)) == 10.1 + 0.025)
        #expect(looksAgainAt(&state, channelB, at: 40) == 40 + RateLimitState.longestDiscoveryPoll)
        state.abandon(first)
        // The next discovery starts its own clock.
        #expect(proceed(&state, channelB, at: 41)?.discovering == true)
        #expect(looksAgainAt(&state, channelA, at: 41.001) == 41.001 + 0.002)
    }

    @Test func lateAnswersNeverRaiseWhatIsLeftOrPullTheResetEarlier() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        state.complete(first, answer(limit: 3, remaining: 2, resetAfter: 10), now: 0)
        let second = try #require(proceed(&state, channelA, at: 1))
        let third = try #require(proceed(&state, channelA, at: 1))
        // The third's answer arrives first and says 0 left; the second's, late, says 1 left.
        state.complete(third, answer(limit: 3, remaining: 0, resetAfter: 9), now: 1)
        state.complete(second, answer(limit: 3, remaining: 1, resetAfter: 8), now: 2)
        #expect(waitUntil(&state, channelA, at: 2) == 10)
    }

    /// A bucket per channel the bot ever wrote to does not stay for good: those whose window has
    /// ended are dropped (a fresh one is the same), those still counting are kept — buckets made
    /// while no answer comes (the network down: every request abandoned) as well.
    @Test(arguments: [true, false])
    func endedBucketsAreDropped(answered: Bool) throws {
        var state = RateLimitState(globalLimit: 1_000_000, margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        state.complete(first, answer(limit: 5, remaining: 4, resetAfter: 1), now: 0)
        for channel in 1...20_000 {
            let route = Route(.post, "/channels/{channel.id}/messages", ["channel.id": String(channel)])
            let now = Double(channel) * 0.001
            let ticket = try #require(proceed(&state, route, at: now))
            if answered {
                state.complete(ticket, answer(limit: 5, remaining: 4, resetAfter: 1), now: now)
            } else {
                state.abandon(ticket)
            }
        }
        #expect(state.heldCount < 3 * RateLimitState.sweepFloor, "\(state.heldCount)")
        guard answered else { return }
        // The channel written to last is still counting its window: 4 left, then wait.
        let last = Route(.post, "/channels/{channel.id}/messages", ["channel.id": "20000"])
        for _ in 0..<4 { #expect(proceed(&state, last, at: 20.0) != nil) }
        #expect(waitUntil(&state, last, at: 20.0) != nil)
    }

    @Test func theGlobalWindowSlides() throws {
        var state = RateLimitState(globalLimit: 3, globalWindow: 1, margin: 0.01)
        let discovery = try #require(proceed(&state, channelA, at: 0))
        state.complete(discovery, answer(limit: 100, remaining: 99, resetAfter: 60), now: 0)
        #expect(proceed(&state, channelA, at: 0.5) != nil)
        #expect(proceed(&state, channelA, at: 0.9) != nil)
        // Three sends in (0, 0.9]: the fourth waits until the first leaves the window.
        #expect(waitUntil(&state, channelA, at: 0.95) == 1.01)
        #expect(proceed(&state, channelA, at: 1.01) != nil)
        #expect(waitUntil(&state, channelA, at: 1.2) == 1.51)
        // The interaction endpoints are exempt: the callback and follow-ups (a webhook by interaction token).
        let callback = Route(.post, "/interactions/{interaction.id}/{interaction.token}/callback", ["interaction.id": "9", "interaction.token": "t"])
        #expect(proceed(&state, callback, at: 1.2) != nil)
        let followup = Route(.post, "/webhooks/{application.id}/{interaction.token}", ["application.id": "7", "interaction.token": "t"])
        #expect(proceed(&state, followup, at: 1.2) != nil)
        let edit = Route(
            .patch, "/webhooks/{application.id}/{interaction.token}/messages/{message.id}",
            ["application.id": "7", "interaction.token": "t", "message.id": "@original"])
        #expect(proceed(&state, edit, at: 1.2) != nil)
    }

    @Test func fourTwentyNinesHoldBackTheirScope() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        state.complete(first, answer(limit: 5, remaining: 4, resetAfter: 5), now: 0)
        let limited = try #require(proceed(&state, channelA, at: 1))
        var user = answer(limit: 5, remaining: 0, resetAfter: 3, status: 429)
        user.retryAfter = 3
        user.scope = "user"
        state.complete(limited, user, now: 1)
        #expect(waitUntil(&state, channelA, at: 1) == 5, "the bucket waits; the later of reset and retry")
        #expect(proceed(&state, channelB, at: 1) != nil, "other channels are not held back")
        let global = try #require(proceed(&state, channelB, at: 1))
        state.complete(global, RateLimitState.Answer(status: 429, retryAfter: 2, scope: "global", isGlobal: true), now: 1)
        #expect(waitUntil(&state, channelB, at: 1.5) == 3)
    }

    @Test func theInvalidRequestBudgetCountsAndForgets() {
        var budget = InvalidRequestBudget(limit: 3, window: 10)
        budget.record(status: 403, scope: nil, at: 0)
        budget.record(status: 429, scope: "shared", at: 1)
        budget.record(status: 404, scope: nil, at: 1)
        budget.record(status: 401, scope: nil, at: 2)
        let beforeThird = budget.allows(at: 2)
        budget.record(status: 429, scope: "user", at: 3)
        let atThird = budget.allows(at: 3)
        let later = budget.allows(at: 10.5)
        #expect(beforeThird && !atThird)
        #expect(later, "the first left the window")
    }

    @Test func aWindowNoAnswerDatedStillEnds() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        state.complete(first, answer(limit: 1, remaining: 0, resetAfter: 2), now: 0)
        // The window ends; the next request's connection fails, so nothing dates the new window.
        let lost = try #require(proceed(&state, channelA, at: 2))
        state.abandon(lost)
        #expect(waitUntil(&state, channelA, at: 2.5) == 4, "the window is timed from its first request")
        let headerless = try #require(proceed(&state, channelA, at: 4))
        state.complete(headerless, RateLimitState.Answer(status: 502), now: 4.1)
        #expect(waitUntil(&state, channelA, at: 4.2) == 6)
        #expect(proceed(&state, channelA, at: 6) != nil)
    }

    @Test func anAnswerFromAnEarlierWindowDoesNotSpeakForThisOne() throws {
        var state = RateLimitState(margin: 0)
        let first = try #require(proceed(&state, channelA, at: 0))
        state.complete(first, answer(limit: 3, remaining: 2, resetAfter: 1), now: 0)
        let old = try #require(proceed(&state, channelA, at: 0.5))
        // A new window starts at 1 and two requests go in it; then the old window's late answer.
        _ = try #require(proceed(&state, channelA, at: 1.2))
        _ = try #require(proceed(&state, channelA, at: 1.2))
        state.complete(old, answer(limit: 3, remaining: 1, resetAfter: 0.001), now: 1.3)
        #expect(proceed(&state, channelA, at: 1.4) != nil, "one left in the new window")
        #expect(waitUntil(&state, channelA, at: 1.4) != nil)
    }

    @Test func aFourTwentyNineNoBucketTakesHoldsTheRouteBack() throws {
        var state = RateLimitState(margin: 0)
        let discovery = try #require(proceed(&state, channelA, at: 0))
        state.complete(discovery, RateLimitState.Answer(status: 429, retryAfter: 1.5, scope: "user"), now: 0.1)
        #expect(waitUntil(&state, channelA, at: 0.2) == 1.6, "not resent at once")
        #expect(proceed(&state, channelA, at: 1.6)?.discovering == true)
        // A global 429 on an exempt route holds that route back too.
        let callback = Route(.post, "/interactions/{interaction.id}/{interaction.token}/callback", ["interaction.id": "9", "interaction.token": "t"])
        let answered = try #require(proceed(&state, callback, at: 2))
        state.complete(answered, RateLimitState.Answer(status: 429, retryAfter: 1, scope: "global", isGlobal: true), now: 2)
        #expect(waitUntil(&state, callback, at: 2.5) == 3)
    }
}
