public import DiscordGateway
import Foundation
public import KamiiRedis
public import Logging

/// Discord's identify rule kept by every process of a bot together, through Redis: one identify per
/// bucket (`shard_id % max_concurrency`) per window. A shard takes its bucket's lease (`SET NX PX`)
/// (for two windows: the write may lag the turn on a loaded machine) before identifying and, once
/// the identify is written, pins the lease to one window from then. The lease expires on its own,
/// so a process that dies mid-identify holds a bucket for two windows at most. Waiting processes
/// look again every 1 % of the window (at least 10 ms; one waiter per bucket per process).
public actor RedisIdentifyQueue: IdentifyGate {
    public nonisolated let maxConcurrency: Int
    public nonisolated let window: Duration
    /// Added to every lease: covers the difference in how long two processes' identifies take to
    /// reach Discord after they took their leases.
    public nonisolated let margin: Duration
    private let redis: RedisClient
    private let keyPrefix: String
    private let logger: Logger
    private var owners: [Int: String] = [:]

    /// Identifies whose lease had run out before they were written (a very slow connection):
    /// each one may have shared its window with another process's identify.
    public private(set) var lostLeases = 0

    public init(
        redis: RedisClient, namespace: String, maxConcurrency: Int, window: Duration = .seconds(5), margin: Duration? = nil,
        logger: Logger = Logger(label: "kamii.identify")
    ) {
        precondition(maxConcurrency > 0, "max_concurrency is at least 1")
        self.redis = redis
        self.keyPrefix = "kamii:gateway:{\(namespace)}:identify:"
        self.maxConcurrency = maxConcurrency
        self.window = window
        self.margin = margin ?? LocalIdentifyQueue.defaultMargin(for: window)
        self.logger = logger
    }

    public func waitForTurn(shard: Int) async throws {
        let key = keyPrefix + String(shard % maxConcurrency)
        let owner = "\(ProcessInfo.processInfo.processIdentifier):\(shard):\(UInt64.random(in: 0...UInt64.max))"
        var failures = 0
        while true {
            try Task.checkCancellation()
            let wait: Duration
            do {
                let reply = try await redis.evaluate(Self.acquire, keys: [key], arguments: [owner, String(Self.milliseconds(window * 2 + margin))])
                failures = 0
                guard let remaining = reply.int else { throw RedisError.protocolViolation("lease script answered \(reply)") }
                if remaining == Self.taken {
                    owners[shard] = owner
                    return
                }
                // -2: gone between SET and PTTL; try again at once. The lease shrinks when its
                // holder's identify is written, so look again soon rather than sleep out its PTTL.
                wait = remaining > 0 ? min(.milliseconds(remaining), LocalIdentifyQueue.pollInterval(for: window)) : .zero
            } catch where !(error is CancellationError) {
                // Identifying without the lease could reset the token; wait for Redis instead
                // (whatever kept the answer from coming: a shard stopped for it would not restart).
                failures += 1
                if failures == 1 || failures.isMultiple(of: 20) {
                    logger.error("identify queue cannot reach Redis; shard \(shard) waits", metadata: ["error": "\(error)"])
                }
                wait = .milliseconds(min(2_000, 50 << min(failures, 6)))
            }
            // A little jitter so waiting processes do not all ask at the same millisecond.
            try await Task.sleep(for: wait + .milliseconds(Int.random(in: 0...2)))
        }
    }

    public func identifySent(shard: Int) async {
        guard let owner = owners.removeValue(forKey: shard) else { return }
        let key = keyPrefix + String(shard % maxConcurrency)
        do {
            let pinned = try await redis.evaluate(Self.pin, keys: [key], arguments: [owner, String(Self.milliseconds(window + margin))])
            if pinned.int != 1 {
                lostLeases += 1
                logger.warning("shard \(shard)'s identify lease ran out before the identify was written")
            }
        } catch {
            // The lease still expires one window (plus margin) after it was taken.
            logger.warning("could not pin shard \(shard)'s identify lease", metadata: ["error": "\(error)"])
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration / .milliseconds(1))
    }

    /// What the acquire script answers when the lease is the caller's.
    static let taken = -10

    /// Takes the lease (or finds it is already the caller's: a retry after a lost reply), or
    /// answers how long it is still held. A lease without a time to live (never set by Kamii) is
    /// given one, so it cannot block the bucket forever.
    static let acquire = RedisScript("""
        if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return -10 end
        if redis.call('GET', KEYS[1]) == ARGV[1] then return -10 end
        local ttl = redis.call('PTTL', KEYS[1])
        if ttl == -1 then
            redis.call('PEXPIRE', KEYS[1], ARGV[2])
            return tonumber(ARGV[2])
        end
        return ttl
        """)

    /// Restarts the lease's clock if it is still ours.
    static let pin = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """)
}
