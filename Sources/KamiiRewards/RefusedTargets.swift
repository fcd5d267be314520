import Synchronization

/// The roles and channels Discord refused a guild's calls on for good reason — the bot's role moved
/// below a reward role, a channel it may no longer see, a role deleted — kept for a while, so the
/// level-ups after it are not sent only to be refused again: each refusal counts against the
/// invalid-request budget (10,000 in 10 minutes, then Discord bans the IP), which one
/// misconfigured busy guild would otherwise spend for every guild. Forgotten when the guild's
/// settings are saved (an admin fixing it) or after `lifetime`.
final class RefusedTargets: Sendable {
    /// Discord's codes that say the target is refused whoever the member is: missing access,
    /// missing permissions, unknown role, unknown channel.
    static let lastingCodes: Set<Int> = [50001, 50013, 10011, 10003]

    let lifetime: Duration
    private let refused = Mutex<[[UInt64]: ContinuousClock.Instant]>([:])

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// Whether calls on `target` (a role or channel ID) in `guild` are refused for now.
    func isRefused(_ target: UInt64, in guild: UInt64) -> Bool {
        refused.withLock { refused in
            guard let until = refused[[guild, target]] else { return false }
            if until > .now { return true }
            refused[[guild, target]] = nil
            return false
        }
    }

    /// Discord refused a call on `target` with `code`: kept when the code lasts.
    func note(_ code: Int?, on target: UInt64, in guild: UInt64) {
        guard let code, Self.lastingCodes.contains(code) else { return }
        let until = ContinuousClock.now + lifetime
        refused.withLock { refused in
            // Bounded: guilds that refuse the bot something are few next to all guilds.
            if refused.count >= 50_000 { refused = refused.filter { $0.value > .now } }
            refused[[guild, target]] = until
        }
    }

    /// The guild's settings were saved: try its roles and channels again.
    func forget(_ guild: UInt64) {
        refused.withLock { refused in refused = refused.filter { $0.key[0] != guild } }
    }
}
