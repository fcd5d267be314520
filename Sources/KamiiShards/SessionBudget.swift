import DiscordGateway
public import DiscordREST
import Synchronization
public import KamiiRedis
public import Logging
import Metrics

/// Keeps a reserve of Discord's daily session starts (`session_start_limit.remaining`): below it
/// identifies are refused, loudly, instead of letting Discord reset the bot's token — a reset takes
/// every shard of every process down at once and needs a human to mint a new token.
public protocol SessionBudget: Sendable {
    /// Takes one session start, or throws ``IdentifyRefused`` when only the reserve is left.
    func spend(shard: Int) async throws
    /// Gives back the start `shard` took with its last ``spend(shard:)``: its identify was never
    /// written (the connection ended, or the shard stopped, while it waited for its turn), so
    /// Discord did not count it. Without this an outage drains the budget one wait at a time.
    func refund(shard: Int) async
}

/// The budget shared by every process of the bot through one Redis counter, set from
/// `GET /gateway/bot` and expiring when Discord's budget resets.
public struct RedisSessionBudget: SessionBudget {
    public let reserve: Int
    private let redis: RedisClient
    private let key: String
    private let fetch: @Sendable () async throws -> GatewayBot.SessionStartLimit
    private let logger: Logger
    /// Which answer of Discord's (the budget's epoch) each shard's last start came from: a refund
    /// after the budget was read again would give back a start the new answer never counted.
    private let spentFrom = SpentFrom()

    private final class SpentFrom: Sendable {
        let epochs = Mutex<[Int: String]>([:])
        /// Each shard's take whose answer was lost (a timeout, a dropped connection): the script
        /// may have run. The shard's next take names it again, and is answered from it if it did.
        let unsettled = Mutex<[Int: String]>([:])
    }

    public init(
        redis: RedisClient, namespace: String, reserve: Int, logger: Logger = Logger(label: "kamii.session-budget"),
        fetch: @escaping @Sendable () async throws -> GatewayBot.SessionStartLimit
    ) {
        self.redis = redis
        self.key = "kamii:gateway:{\(namespace)}:session-budget"
        self.reserve = reserve
        self.fetch = fetch
        self.logger = logger
    }

    /// Starts the shared budget from Discord's answer, unless another process did, with a fresh
    /// epoch beside it (same expiry).
    public func seed(_ limit: GatewayBot.SessionStartLimit) async throws {
        let epoch = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        _ = try await redis.evaluate(Self.setBudget, keys: [key, key + ":epoch"], arguments: [
            String(limit.remaining), String(max(1_000, limit.resetAfter)), epoch,
        ])
    }

    public func spend(shard: Int) async throws {
        let take = spentFrom.unsettled.withLock { $0[shard] } ?? String(UInt64.random(in: 0...UInt64.max), radix: 36)
        for _ in 0..<100 {
            // A take that fails stays named for the shard's next: one that did not run is taken then.
            spentFrom.unsettled.withLock { $0[shard] = take }
            let reply = try await redis.evaluate(Self.take, keys: [key, key + ":epoch", key + ":take:" + take], arguments: [String(reserve)])
            spentFrom.unsettled.withLock { _ = $0.removeValue(forKey: shard) }
            guard let values = reply.array, values.count == 3, let left = values[0].int, let ttl = values[1].int else {
                throw RedisError.protocolViolation("budget script answered \(reply)")
            }
            switch left {
            case -2:
                // Nobody has asked Discord since the last reset: one process asks and shares the
                // answer; the others wait for it.
                if try await redis.send("SET", key + ":asking", "1", "NX", "PX", "10000") == .simple("OK") {
                    let limit: GatewayBot.SessionStartLimit
                    do {
                        limit = try await fetch()
                    } catch {
                        _ = try? await redis.send("DEL", key + ":asking")
                        throw error
                    }
                    try await seed(limit)
                    _ = try await redis.send("DEL", key + ":asking")
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            case -1:
                throw SessionBudgetGuard.refuse(shard: shard, reserve: reserve, retryAfter: .milliseconds(max(ttl, 1_000)), logger: logger)
            default:
                let epoch = values[2].string ?? ""
                spentFrom.epochs.withLock { $0[shard] = epoch }
                return
            }
        }
        throw IdentifyRefused(reason: "nobody answered what the session budget is (GET /gateway/bot)", retryAfter: .seconds(5))
    }

    /// Gives the start back while the budget it came from is still running: a budget that reset
    /// and was read again meanwhile (another epoch) never counted it.
    public func refund(shard: Int) async {
        guard let epoch = spentFrom.epochs.withLock({ $0.removeValue(forKey: shard) }) else { return }
        do {
            _ = try await redis.evaluate(Self.giveBack, keys: [key, key + ":epoch"], arguments: [epoch])
        } catch {
            // The start stays spent: a budget that looks smaller than it is errs on the safe side.
            logger.warning("could not give back shard \(shard)'s unused session start", metadata: ["error": "\(error)"])
        }
    }

    static let giveBack = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('GET', KEYS[2]) == ARGV[1] then return redis.call('INCR', KEYS[1]) end
        return -1
        """)

    /// The budget (remaining, expiry in ms) and its epoch, unless a budget is set.
    static let setBudget = RedisScript("""
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[2]) end
        return 1
        """)

    /// Takes one start unless only the reserve is left; answers {left after, ms until reset, epoch},
    /// {-1, ms until reset, epoch} when refused, {-2, 0, false} when the budget is unknown. The take
    /// is named (KEYS[3], kept ten minutes, holding the epoch it took from): named again after its
    /// answer was lost, it answers that the start is taken — from this budget — without taking another.
    static let take = RedisScript("""
        local remaining = redis.call('GET', KEYS[1])
        if not remaining then return {-2, 0, false} end
        remaining = tonumber(remaining)
        local epoch = redis.call('GET', KEYS[2]) or ''
        if redis.call('GET', KEYS[3]) == epoch then return {remaining, redis.call('PTTL', KEYS[1]), epoch} end
        if remaining <= tonumber(ARGV[1]) then return {-1, redis.call('PTTL', KEYS[1]), epoch} end
        redis.call('DECR', KEYS[1])
        redis.call('SET', KEYS[3], epoch, 'PX', 600000)
        return {remaining - 1, redis.call('PTTL', KEYS[1]), epoch}
        """)
}

/// The budget of a bot that runs in one process, kept in memory and refreshed from
/// `GET /gateway/bot` when its reset time passes.
public actor LocalSessionBudget: SessionBudget {
    public nonisolated let reserve: Int
    private let fetch: @Sendable () async throws -> GatewayBot.SessionStartLimit
    private let logger: Logger
    private var remaining: Int?
    private var resetAt = ContinuousClock.now
    private var refreshing: Task<Void, any Error>?
    /// Which of Discord's answers each shard's last start came from: a refund after the budget was
    /// read again would give back a start the new answer never counted.
    private var answer = 0
    private var spentFrom: [Int: Int] = [:]

    /// - Parameter initial: an answer already at hand, used until its reset passes.
    public init(
        reserve: Int, initial: GatewayBot.SessionStartLimit? = nil, logger: Logger = Logger(label: "kamii.session-budget"),
        fetch: @escaping @Sendable () async throws -> GatewayBot.SessionStartLimit
    ) {
        self.reserve = reserve
        self.fetch = fetch
        self.logger = logger
        if let initial {
            remaining = initial.remaining
            resetAt = .now + .milliseconds(max(1_000, initial.resetAfter))
        }
    }

    public func spend(shard: Int) async throws {
        if remaining == nil || ContinuousClock.now >= resetAt {
            try await refresh()
        }
        guard let left = remaining, left > reserve else {
            throw SessionBudgetGuard.refuse(shard: shard, reserve: reserve, retryAfter: resetAt - .now, logger: logger)
        }
        remaining = left - 1
        spentFrom[shard] = answer
    }

    /// The starts this process believes are left, once Discord was asked.
    public var startsLeft: Int? { remaining }

    public func refund(shard: Int) {
        guard let from = spentFrom.removeValue(forKey: shard), from == answer, let left = remaining else { return }
        remaining = left + 1
    }
}

extension LocalSessionBudget {
    /// One request to Discord however many shards find the budget stale at once; the answer is
    /// applied before any of them reads it, and only once (later decrements are not undone).
    private func refresh() async throws {
        if let refreshing { return try await refreshing.value }
        let fetch = fetch
        let task = Task {
            let limit = try await fetch()
            self.apply(limit)
        }
        refreshing = task
        defer { refreshing = nil }
        try await task.value
    }

    private func apply(_ limit: GatewayBot.SessionStartLimit) {
        answer += 1
        spentFrom.removeAll()
        remaining = limit.remaining
        resetAt = .now + .milliseconds(max(1_000, limit.resetAfter))
    }
}

enum SessionBudgetGuard {
    private static var refusals: Counter { Counter(label: "kamii_identify_refused_total") }

    /// Makes the refusals' series at zero (``ShardManager/makeMetricsAtZero()``).
    static func makeMetricsAtZero() { _ = refusals }

    static func refuse(shard: Int, reserve: Int, retryAfter: Duration, logger: Logger) -> IdentifyRefused {
        refusals.increment()
        let reason = "the session starts left today are down to the configured reserve (\(reserve)); shard \(shard) waits for "
            + "Discord's budget to reset in \(retryAfter) instead of risking a token reset. Check why shards keep identifying."
        logger.error("\(reason)")
        return IdentifyRefused(reason: reason, retryAfter: retryAfter)
    }
}
