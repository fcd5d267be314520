import Synchronization

/// The roles and channels Discord refused a guild's calls on for good reason — the bot's role moved
/// below a reward role, a channel it may no longer see, a role deleted — kept for a while, so the
/// level-ups after it are not sent only to be refused again: each refusal counts against the
/// invalid-request budget (10,000 in 10 minutes, then Discord bans the IP; the REST client stops
/// every call short of it), which misconfigured busy guilds would otherwise spend for every guild.
/// A target refused again as soon as it is tried again is kept twice as long each time, up to
/// ``longestLifetime``: a guild left misconfigured for good costs a refusal a day per target, not
/// one every `lifetime` (hundreds of such guilds would spend the budget). Forgotten when the
/// guild's settings are saved (an admin fixing it), and its count of refusals when a call on the
/// target goes through.
final class RefusedTargets: Sendable {
    /// Discord's codes that say the target is refused whoever the member is: missing access,
    /// missing permissions, unknown role, unknown channel.
    static let lastingCodes: Set<Int> = [50001, 50013, 10011, 10003]
    /// The longest a refusal is kept.
    static let longestLifetime = Duration.seconds(86_400)
    /// Targets remembered at most (refused now, or refused before and not tried since).
    static let limit = 50_000

    struct Refusal {
        var until: ContinuousClock.Instant
        /// Refusals in a row (none went through in between).
        var times: Int
        /// Discord's code of the last.
        var code: Int
    }

    /// How long a first refusal is kept.
    let lifetime: Duration
    private let refused = Mutex<[[UInt64]: Refusal]>([:])

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// Whether calls on `target` (a role or channel ID) in `guild` are refused for now.
    func isRefused(_ target: UInt64, in guild: UInt64, now: ContinuousClock.Instant = .now) -> Bool {
        refusal(of: target, in: guild, now: now) != nil
    }

    /// Discord's code refusing calls on `target` in `guild` for now; nil when they are not.
    func refusal(of target: UInt64, in guild: UInt64, now: ContinuousClock.Instant = .now) -> Int? {
        refused.withLock { $0[[guild, target]].flatMap { $0.until > now ? $0.code : nil } }
    }

    /// Discord refused a call on `target` with `code`: kept when the code lasts, twice as long as
    /// last time when it was refused before.
    func note(_ code: Int?, on target: UInt64, in guild: UInt64, now: ContinuousClock.Instant = .now) {
        guard let code, Self.lastingCodes.contains(code) else { return }
        refused.withLock { refused in
            let times = (refused[[guild, target]]?.times ?? 0) + 1
            let kept = min(Self.longestLifetime, lifetime * (1 << min(times - 1, 20)))
            // Bounded: guilds that refuse the bot something are few next to all guilds. Refusals
            // long over go first, then those over.
            if refused[[guild, target]] == nil, refused.count >= Self.limit {
                refused = refused.filter { $0.value.until + Self.longestLifetime > now }
                if refused.count >= Self.limit { refused = refused.filter { $0.value.until > now } }
            }
            refused[[guild, target]] = Refusal(until: now + kept, times: times, code: code)
        }
    }

    /// A call on `target` went through: the next refusal of it counts from the start.
    func accepted(_ target: UInt64, in guild: UInt64) {
        refused.withLock { refused in
            if refused[[guild, target]] != nil { refused[[guild, target]] = nil }
        }
    }

    /// The guild's settings were saved: try its roles and channels again.
    func forget(_ guild: UInt64) {
        refused.withLock { refused in refused = refused.filter { $0.key[0] != guild } }
    }
}
