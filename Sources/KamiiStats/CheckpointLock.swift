import KamiiRedis
import Logging
import Synchronization

/// One checkpointer at a time on a Redis (`<prefix>:{dirty-guilds}:checkpoint-lock`, holding the
/// holder's token). Several processes share one Redis and its marks: two checkpointers at once
/// would each release marks the other merged in after reading the record (that change then waits
/// for the member's next one), and one that read a record before the other could write it to SQL
/// after. A checkpoint that finds the lock taken leaves the marks to the holder, which copies them
/// all; at shutdown a process waits for its turn instead, so that what its last flush marked is
/// copied before it stops. The lock runs out if its holder dies or hangs; a checkpoint renews it
/// while it makes progress.
struct CheckpointLock: Sendable {
    /// How long the lock lasts past its holder's latest renewal, and how often a checkpoint in
    /// progress renews it.
    struct Timing: Sendable {
        var lifetime: Duration = .seconds(60)
        var renewal: Duration = .seconds(10)
    }

    let key: String
    let token = String(UInt64.random(in: 1...UInt64.max))
    let timing: Timing
    private let lifetimeMilliseconds: String

    init(keys: StatsKeys, timing: Timing = Timing()) {
        key = keys.dirtyGuilds + ":checkpoint-lock"
        self.timing = timing
        lifetimeMilliseconds = String(max(1, Int(timing.lifetime / .milliseconds(1))))
    }

    /// Takes the lock if no one holds it.
    func acquire(_ redis: RedisClient) async throws -> Bool {
        try await !redis.send("SET", key, token, "NX", "PX", lifetimeMilliseconds).orThrow().isNull
    }

    /// When the checkpoint holding the lock last made progress (a guild or a journal part done).
    final class Progress: Sendable {
        private let last = Mutex(ContinuousClock.now)

        func note() { last.withLock { $0 = .now } }

        var age: Duration { ContinuousClock.now - last.withLock { $0 } }
    }

    /// Renews the lock every ``Timing/renewal`` until cancelled (the checkpoint is done), while the
    /// checkpoint makes `progress` (noted per guild and per step of a guild's copy; one step — a
    /// single upsert — longer than the lifetime lets it run out), but not for one that hangs (a SQL
    /// call that never returns), whose lock then runs out so that another process's checkpoints
    /// go on; renewals resume if progress does while the lock is still this one's. Returns early,
    /// with a warning, when the lock is found to be no longer this one's.
    func keepRenewed(_ redis: RedisClient, progress: Progress, logger: Logger) async {
        var stalled = false
        while true {
            do { try await Task.sleep(for: timing.renewal) } catch { return }
            guard progress.age < timing.lifetime else {
                if !stalled {
                    logger.warning("checkpoint: no progress for the lock's lifetime; its lock runs out, and another process's checkpoint may overlap this one")
                }
                stalled = true
                continue
            }
            stalled = false
            do {
                let kept = try await redis.evaluate(Self.renew, keys: [key], arguments: [token, lifetimeMilliseconds]).orThrow().int == 1
                guard kept else {
                    logger.warning("checkpoint: its lock ran out; another process's checkpoint may overlap this one")
                    return
                }
            } catch {
                logger.warning("checkpoint: its lock could not be renewed; tried again shortly", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Releases the lock if it is still this one's.
    func release(_ redis: RedisClient) async throws {
        _ = try await redis.evaluate(Self.release, keys: [key], arguments: [token]).orThrow()
    }

    private static let renew = RedisScript("""
        if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
        redis.call('PEXPIRE', KEYS[1], ARGV[2])
        return 1
        """)

    private static let release = RedisScript("""
        if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
        return 0
        """)
}
