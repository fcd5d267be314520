import Foundation
import Synchronization

/// Discord's rate limiting, as the simulator enforces it: per-bucket windows that start with their
/// first request, a global per-second limit over any one-second span, forced 429 storms on
/// command, and the invalid-request count that ends in a temporary ban.
final class RateLimitModel: Sendable {
    /// What to do with a request.
    enum Verdict {
        /// Serve it; these headers go on the answer.
        case allowed(headers: [(String, String)])
        /// Refuse it with 429.
        case limited(RateLimited)
        /// Refuse it: the client is banned for too many invalid requests.
        case banned
    }

    /// A 429 and its scope (`user`: the bucket, `global`, or `shared`: the resource).
    struct RateLimited {
        var retryAfter: Double
        var scope: String
        var headers: [(String, String)] = []

        var isGlobal: Bool { scope == "global" }
    }

    private struct Window {
        var startedAt: Double
        var count: Int
    }

    private struct State {
        var buckets: [String: Window] = [:]
        /// When the accepted non-exempt requests of the last global window arrived, oldest first.
        /// Each caller's requests within the global window.
        var recentGlobal: [String: [Double]] = [:]
        var invalid: [Double] = []
        var bannedUntil: Double?
        var forced: (remaining: Int, retryAfter: Double, scope: String)?
        var serverErrors: (remaining: Int, status: Int, applied: Bool)?
        var bans = 0
    }

    let limits: RESTLimits
    private let state = Mutex(State())
    private let started = ContinuousClock.now
    private let startedEpoch = Date().timeIntervalSince1970

    init(limits: RESTLimits) {
        self.limits = limits
    }

    /// Seconds since the simulator started.
    var now: Double {
        let elapsed = ContinuousClock.now - started
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// How many times the invalid-request ban was imposed.
    var bans: Int { state.withLock { $0.bans } }

    /// The next `count` requests get 429 with this scope and `retry_after` (a storm on command).
    func force(count: Int, retryAfter: Double, scope: String) {
        state.withLock { $0.forced = count > 0 ? (count, retryAfter, scope) : nil }
    }

    /// The next `count` requests are processed, then answered with `status` (5xx): the case where
    /// resending a POST would apply it twice.
    func forceServerErrors(count: Int, status: Int, applied: Bool = true) {
        state.withLock { $0.serverErrors = count > 0 ? (count, status, applied) : nil }
    }

    /// Takes one forced server error, if any are due: its status, and whether the request is applied
    /// before it is answered.
    func takeServerError() -> (status: Int, applied: Bool)? {
        state.withLock { state in
            guard let errors = state.serverErrors else { return nil }
            state.serverErrors = errors.remaining > 1 ? (errors.remaining - 1, errors.status, errors.applied) : nil
            return (errors.status, errors.applied)
        }
    }

    /// Whether the client is banned now (a ban that has run out is lifted, its count cleared).
    func isBanned(at now: Double? = nil) -> Bool {
        let now = now ?? self.now
        return state.withLock { Self.banStands(&$0, at: now) }
    }

    /// Whether a ban stands at `now`; one that has run out is lifted and its count cleared.
    private static func banStands(_ state: inout State, at now: Double) -> Bool {
        guard let until = state.bannedUntil else { return false }
        if now < until { return true }
        state.bannedUntil = nil
        state.invalid = []
        return false
    }

    /// Decides a request on `route` by `caller` and counts it. Discord keeps buckets and the global
    /// limit per token: the bot's, and each OAuth2 user's bearer token apart (`user:ID`), so a
    /// busy bot does not hold back a user's panel requests, nor the other way round. Invalid
    /// requests are counted per address, for everyone together (``count(status:scope:at:)``).
    func admit(_ route: RESTRoute, caller: String = "bot", at now: Double? = nil) -> Verdict {
        let now = now ?? self.now
        return state.withLock { state in
            // Checked again: a ban may have begun since the request's first look (another's 401).
            if Self.banStands(&state, at: now) { return .banned }
            let allowance = limits.bucket(for: route.bucketGroup)
            let key = caller + " " + route.bucketGroup + ":" + route.majorParameter
            var window = state.buckets[key] ?? Window(startedAt: now, count: 0)
            if now >= window.startedAt + allowance.seconds { window = Window(startedAt: now, count: 0) }
            let resetAfter = window.startedAt + allowance.seconds - now

            if let forced = state.forced {
                state.forced = forced.remaining > 1 ? (forced.remaining - 1, forced.retryAfter, forced.scope) : nil
                // As on Discord, a bucket's or a resource's 429 names the bucket; a global one does not.
                // A shared resource's limit is not the caller's bucket: that still has what it has
                // (Discord's example answers `Remaining: 9`), so a client must heed the 429 itself.
                let remaining = forced.scope == "shared" ? max(0, allowance.limit - window.count) : 0
                let headers = forced.scope == "global" ? [] : Self.headers(
                    route, allowance, remaining: remaining, resetAfter: forced.retryAfter, epoch: startedEpoch + now)
                return .limited(RateLimited(retryAfter: forced.retryAfter, scope: forced.scope, headers: headers))
            }
            if !route.isExemptFromGlobalLimit {
                let span = limits.globalWindowSeconds
                var recent = state.recentGlobal.removeValue(forKey: caller) ?? []
                recent.removeFirst(recent.prefix { $0 <= now - span }.count)
                if !recent.isEmpty { state.recentGlobal[caller] = recent }
                if recent.count >= limits.globalPerSecond, let oldest = recent.first {
                    return .limited(RateLimited(retryAfter: oldest + span - now, scope: "global"))
                }
            }
            guard window.count < allowance.limit else {
                let headers = Self.headers(route, allowance, remaining: 0, resetAfter: resetAfter, epoch: startedEpoch + now)
                return .limited(RateLimited(retryAfter: resetAfter, scope: "user", headers: headers))
            }
            window.count += 1
            state.buckets[key] = window
            if !route.isExemptFromGlobalLimit { state.recentGlobal[caller, default: []].append(now) }
            return .allowed(headers: Self.headers(
                route, allowance, remaining: allowance.limit - window.count, resetAfter: resetAfter, epoch: startedEpoch + now))
        }
    }

    /// Counts an answer: 401, 403 and 429 (except `shared` 429s) are invalid requests; too many
    /// within the window and the client is banned.
    func count(status: Int, scope: String?, at now: Double? = nil) {
        guard status == 401 || status == 403 || (status == 429 && scope != "shared") else { return }
        let now = now ?? self.now
        state.withLock { state in
            let window = limits.invalidRequestWindowSeconds * limits.windowScale
            state.invalid.removeFirst(state.invalid.prefix { $0 <= now - window }.count)
            state.invalid.append(now)
            if state.invalid.count >= limits.invalidRequestLimit, state.bannedUntil == nil {
                state.bannedUntil = now + limits.banSeconds
                state.bans += 1
            }
        }
    }

    /// Invalid requests counted in the current window.
    var invalidRequests: Int { state.withLock { $0.invalid.count } }

    private static func headers(
        _ route: RESTRoute, _ allowance: RESTLimits.Bucket, remaining: Int, resetAfter: Double, epoch: Double
    ) -> [(String, String)] {
        [
            ("X-RateLimit-Limit", String(allowance.limit)),
            ("X-RateLimit-Remaining", String(remaining)),
            // Rounded up to the millisecond: a client that waits what the header says is never early.
            ("X-RateLimit-Reset", String(format: "%.3f", ((epoch + resetAfter) * 1_000).rounded(.up) / 1_000)),
            ("X-RateLimit-Reset-After", String(format: "%.3f", (resetAfter * 1_000).rounded(.up) / 1_000)),
            ("X-RateLimit-Bucket", bucketHash(route.bucketGroup)),
        ]
    }

    /// A stable, opaque hash per group, as Discord's bucket header carries.
    static func bucketHash(_ group: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in group.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01B3
        }
        let second = hash &* 0x9E37_79B9_7F4A_7C15
        return String(format: "%016llx%016llx", hash, second)
    }
}
