import Foundation
import Synchronization

/// Discord's REST API with its rate limits honoured before sending: buckets learnt from headers,
/// the global limit over any one-second span, 429s waited out and resent (a 429 was not
/// processed), 5xx and lost connections retried only for idempotent methods, and an
/// invalid-request budget that refuses to send long before Discord would ban the IP.
public final class DiscordRESTClient: Sendable {
    public let configuration: RESTClientConfiguration
    private let transport: any HTTPTransport
    private let limits: Mutex<RateLimitState>
    private let budget: Mutex<InvalidRequestBudget>
    /// Set by a 401: every later request is refused here, unsent.
    private let tokenRefused = Atomic<Bool>(false)
    private let started = ContinuousClock.now

    public init(configuration: RESTClientConfiguration, transport: any HTTPTransport = AsyncHTTPClientTransport()) {
        self.configuration = configuration
        self.transport = transport
        limits = Mutex(RateLimitState(
            globalLimit: configuration.globalLimit, globalWindow: configuration.globalWindowSeconds, margin: configuration.margin))
        budget = Mutex(InvalidRequestBudget(limit: configuration.invalidRequestLimit, window: configuration.invalidRequestWindowSeconds))
    }

    /// An answer: status, headers and body.
    public struct Response: Sendable {
        public let status: Int
        public let headers: [(String, String)]
        public let body: [UInt8]

        /// The body decoded as `T`.
        public func decode<T: Decodable>(_: T.Type = T.self) throws(RESTError) -> T {
            do {
                return try JSONDecoder().decode(T.self, from: Data(body))
            } catch {
                throw RESTError(.decoding(description: "\(T.self): \(error)"))
            }
        }
    }

    /// Invalid answers counted in the last window (what the budget guards).
    public var invalidRequests: Int {
        let now = self.now
        return budget.withLock { $0.count(at: now) }
    }

    /// Invalid answers this client got since it started (for a ledger kept beyond the process).
    public var invalidAnswersCounted: Int { budget.withLock { $0.counted } }

    /// Counts invalid answers an earlier process got, each `ages` ago, against the budget until
    /// their window ends: Discord counts them against the IP whichever process got them, and a
    /// process restarted in a loop would otherwise spend the whole budget at each start.
    public func carryOver(invalidAnswersAgo ages: [Duration]) {
        let now = self.now
        budget.withLock { budget in
            budget.carryOver(ages.map { now - Double($0.components.seconds) - Double($0.components.attoseconds) / 1e18 }, now: now)
        }
    }

    /// Sends a request, waiting for its limits first, and returns a 2xx answer or throws.
    ///
    /// - Parameters:
    ///   - body: JSON (or form) bytes; `contentType` says which.
    ///   - reason: `X-Audit-Log-Reason`, shown in the guild's audit log (percent-encoded here).
    ///   - deadline: how long the request may take in all (default: the configuration's).
    public func send(
        _ route: Route, query: [(String, String)] = [], body: [UInt8]? = nil, contentType: String = "application/json",
        reason: String? = nil, deadline: Duration? = nil
    ) async throws(RESTError) -> Response {
        let allowed = deadline ?? configuration.defaultDeadline
        let deadline = ContinuousClock.now + allowed
        // A request is not sent with less than this left: its answer could not come in time, and the
        // caller would be told it failed when Discord may have done it (a POST, a PATCH).
        let sendBy = deadline - min(Self.leastTimeToSend, allowed / 4)
        let request = TransportRequest(method: route.method.rawValue, url: url(route, query), headers: headers(contentType, body, reason), body: body)
        var failures = 0
        var rateLimited = 0
        while true {
            if Task.isCancelled { throw RESTError(.cancelled) }
            let ticket = try await acquire(route, deadline: sendBy)
            guard ContinuousClock.now <= sendBy else {
                limits.withLock { $0.abandon(ticket) }
                throw RESTError(.deadlineExceeded)
            }
            let answer: TransportResponse
            do {
                answer = try await transport.send(request, deadline: deadline)
            } catch {
                limits.withLock { $0.abandon(ticket) }
                if error is CancellationError || Task.isCancelled { throw RESTError(.cancelled) }
                if ContinuousClock.now >= deadline { throw RESTError(.deadlineExceeded) }
                // A lost connection may have delivered the request: only what is safe twice goes again.
                try await retry(route, after: &failures, deadline: deadline, or: RESTError(.transport(description: redacted("\(error)"))))
                continue
            }
            let rate = Self.rateLimitAnswer(answer)
            // Only the bot token's refusal latches: routes addressed by an interaction's token answer
            // 401 (50027) once that token expires, which says nothing of the bot's.
            if answer.status == 401, !route.isInteractionEndpoint { tokenRefused.store(true, ordering: .relaxed) }
            let now = self.now
            limits.withLock { $0.complete(ticket, rate, now: now) }
            budget.withLock { $0.record(status: answer.status, scope: rate.scope, at: now) }
            if let lost = answer.bodyLost, (200..<300).contains(answer.status) {
                // Done, but what Discord answered is gone: as a lost connection, only what is safe
                // twice goes again. (An error's status says enough without its body.)
                if ContinuousClock.now >= deadline { throw RESTError(.deadlineExceeded) }
                let failure = RESTError(.transport(description: "HTTP \(answer.status), but its body was lost: \(lost)"))
                try await retry(route, after: &failures, deadline: deadline, or: failure)
                continue
            }
            switch answer.status {
            case 200..<300:
                return Response(status: answer.status, headers: answer.headers, body: answer.body)
            case 429 where rate.retryAfter != nil && rateLimited < Self.maxRateLimitedResends:
                // Not processed, so safe to send again for any method; the limits now hold it back
                // (the bucket, the global block, or a block on this route alone).
                rateLimited += 1
                continue
            case 500...:
                try await retry(route, after: &failures, deadline: deadline, or: RESTError(.serverError(status: answer.status)))
            default:
                throw DiscordErrorBody.error(status: answer.status, body: answer.body)
            }
        }
    }

    /// `text` without the token: an HTTP client's error may quote the headers it refused — as
    /// they are, escaped (`\r`), or around the character it refused.
    func redacted(_ text: String) -> String {
        let token = configuration.token
        let escaped = String(String(reflecting: token).dropFirst().dropLast())
        let core = token.trimmingCharacters(in: .whitespacesAndNewlines.union(.controlCharacters))
        var result = text
        for form in [token, escaped, core] where form.count >= 4 {
            result = result.replacingOccurrences(of: form, with: "<token>")
        }
        return result
    }

    /// Sends `body` as JSON and decodes the answer as `T`.
    public func send<Body: Encodable & Sendable, T: Decodable>(
        _ route: Route, json body: Body, reason: String? = nil, as _: T.Type = T.self
    ) async throws(RESTError) -> T {
        try await send(route, body: encode(body), reason: reason).decode(T.self)
    }

    func encode<Body: Encodable>(_ body: Body) throws(RESTError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(body))
        } catch {
            throw RESTError(.decoding(description: "cannot encode \(Body.self): \(error)"))
        }
    }

    /// Waits until the route's bucket, the global limit and the invalid-request budget let the
    /// request go. The fast path is one lock.
    private func acquire(_ route: Route, deadline: ContinuousClock.Instant) async throws(RESTError) -> RateLimitState.Ticket {
        while true {
            guard !tokenRefused.load(ordering: .relaxed) else { throw RESTError(.tokenRefused) }
            let now = self.now
            guard budget.withLock({ $0.allows(at: now) }) else {
                throw RESTError(.invalidRequestBudgetExhausted(count: budget.withLock { $0.count(at: now) }))
            }
            switch limits.withLock({ $0.acquire(route, now: now) }) {
            case .proceed(let ticket):
                return ticket
            case .wait(let until):
                try await sleep(for: until - now, deadline: deadline, orElse: RESTError(.rateLimited(retryAfter: until - now)))
            case .lookAgain(let at):
                try await sleep(for: at - now, deadline: deadline)
            }
        }
    }

    /// The least time left for a request to be sent (a quarter of its deadline when that is less).
    static let leastTimeToSend = Duration.seconds(1)

    /// A request answered 429 this many times in a row is given up on (Discord is not letting it
    /// through; going on would only spend the invalid-request budget).
    static let maxRateLimitedResends = 20

    /// Sleeps `seconds`, or throws `tooLong` (by default: the deadline passed) at once when that
    /// would go past `deadline`.
    private func sleep(
        for seconds: Double, deadline: ContinuousClock.Instant, orElse tooLong: RESTError = RESTError(.deadlineExceeded)
    ) async throws(RESTError) {
        let left = ContinuousClock.now.duration(to: deadline)
        let leftSeconds = Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18
        // Checked before converting: a wait past the deadline (or an absurd one) ends the request.
        guard seconds.isFinite, seconds <= leftSeconds else { throw tooLong }
        let wake = ContinuousClock.now + .nanoseconds(Int64(max(0, seconds) * 1e9))
        do {
            try await Task.sleep(until: wake, clock: .continuous)
        } catch {
            throw RESTError(.cancelled)
        }
    }

    /// One more failure of a request Discord may have carried out: waits before it goes again, or
    /// throws `failure` when it is not safe twice or was tried as often as it may be.
    private func retry(_ route: Route, after failures: inout Int, deadline: ContinuousClock.Instant, or failure: RESTError) async throws(RESTError) {
        guard route.method.isIdempotent, failures < configuration.maxRetries else { throw failure }
        failures += 1
        try await backoff(failures, deadline: deadline)
    }

    private func backoff(_ failures: Int, deadline: ContinuousClock.Instant) async throws(RESTError) {
        let base = Double(configuration.firstBackoff.components.seconds) + Double(configuration.firstBackoff.components.attoseconds) / 1e18
        let seconds = base * Double(1 << min(failures - 1, 6)) * Double.random(in: 0.8...1.2)
        try await sleep(for: seconds, deadline: deadline)
    }

    private var now: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    private func url(_ route: Route, _ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return configuration.apiBaseURL + route.path }
        let encoded = query.map { "\(Self.percentEncode($0.0))=\(Self.percentEncode($0.1))" }.joined(separator: "&")
        return configuration.apiBaseURL + route.path + "?" + encoded
    }

    private func headers(_ contentType: String, _ body: [UInt8]?, _ reason: String?) -> [(String, String)] {
        var headers = [("Authorization", "Bot \(configuration.token)"), ("User-Agent", configuration.userAgent)]
        if body != nil { headers.append(("Content-Type", contentType)) }
        // Discord requires the reason URL-encoded (it may hold any Unicode) and keeps 512 characters:
        // cut by scalars, not by graphemes, which may each hold any number of combining marks.
        if let reason, !reason.isEmpty {
            headers.append(("X-Audit-Log-Reason", Self.percentEncode(String(String.UnicodeScalarView(reason.unicodeScalars.prefix(512))))))
        }
        return headers
    }

    static func percentEncode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? text
    }

    static func rateLimitAnswer(_ answer: TransportResponse) -> RateLimitState.Answer {
        var rate = RateLimitState.Answer(status: answer.status)
        rate.bucket = answer.header("X-RateLimit-Bucket")
        rate.limit = answer.header("X-RateLimit-Limit").flatMap(Int.init).flatMap { $0 > 0 ? $0 : nil }
        rate.remaining = answer.header("X-RateLimit-Remaining").flatMap(Int.init).map { max(0, $0) }
        rate.resetAfter = seconds(answer.header("X-RateLimit-Reset-After"))
        rate.scope = answer.header("X-RateLimit-Scope")
        rate.isGlobal = answer.header("X-RateLimit-Global") == "true"
        if answer.status == 429 {
            let json = try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
            rate.retryAfter = seconds(json?["retry_after"].map { "\($0)" }) ?? seconds(answer.header("Retry-After"))
            if json?["global"] as? Bool == true { rate.isGlobal = true }
        }
        return rate
    }

    /// A duration from a header or body: finite, not negative, at most a day — anything else is
    /// ignored rather than trusted (an `inf` must not stall or crash the client).
    static func seconds(_ text: String?) -> Double? {
        guard let text, let value = Double(text), value.isFinite, value >= 0 else { return nil }
        return min(value, 86_400)
    }
}

extension CharacterSet {
    /// RFC 3986's unreserved characters: everything else is percent-encoded.
    static let urlUnreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
