public import KamiiRedis
public import Logging
import Metrics

/// A process's leases on its shards, in Redis: a shard runs only in the process holding its lease
/// (`kamii:gateway:{namespace}:lease:<count>:<shard>`, the holder as its value, expiring after
/// ``lifetime``). Without them a rolling deploy that starts the new process before the old one
/// stops has both resume the same saved sessions — each taking the session from the other, or both
/// identifying and counting every message twice.
///
/// The keeper takes the leases it can at start (``takeAtStart(_:)``); a shard whose lease another
/// process holds waits (``waitForLease(_:)``) while ``run(taken:lost:)`` asks for it every
/// `retryInterval` and renews the held ones every third of their lifetime, all in one script call.
/// A lease found in another's hands, or not renewed for five sixths of its lifetime (Redis away),
/// is lost: its shard must close before the lease can expire and another process take it.
/// A holder that is certainly gone (a crashed process on this machine) is not waited for.
public actor ShardLeaseKeeper {
    public nonisolated let lifetime: Duration
    private let retryInterval: Duration
    private let redis: RedisClient
    private let prefix: String
    private let holder: LeaseHolder
    private let logger: Logger
    /// The shards whose lease this process holds.
    public private(set) var held: Set<Int> = []
    /// Shards waiting for their lease.
    private var wanted: Set<Int> = []
    private var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    /// When the last call that renewed every held lease was sent: they hold until a lifetime after.
    private var confirmedAt: ContinuousClock.Instant?
    private var stopped = false
    /// The other holders last said: each said once while it holds leases this process wants.
    private var othersSaid: Set<String> = []
    private var unreachableSaid = false

    /// - Parameters:
    ///   - lifetime: how long a lease outlives its holder's last renewal — how long a crashed
    ///     process on another machine keeps its shards from the others.
    ///   - retryInterval: how often a waiting shard's lease is asked for.
    public init(
        redis: RedisClient, namespace: String, shardCount: Int, lifetime: Duration = .seconds(30), retryInterval: Duration = .seconds(1),
        logger: Logger = Logger(label: "kamii.shards")
    ) {
        self.redis = redis
        self.prefix = "kamii:gateway:{\(namespace)}:lease:\(shardCount):"
        self.lifetime = lifetime
        self.retryInterval = retryInterval
        self.holder = .current()
        self.logger = logger
    }

    deinit {
        LeaseHolder.renewing.withLock { _ = $0.remove(holder.token) }
    }

    /// What this keeper writes as the holder of its leases.
    public nonisolated var holderName: String { holder.description }

    /// How many shards wait for their lease now.
    public var waitingCount: Int { wanted.count }

    func key(_ shard: Int) -> String { "\(prefix)\(shard)" }

    /// Takes the leases of `shards` that no live process holds, and returns those it took. Waits
    /// for Redis while it cannot be reached: which shards this process may run is not known
    /// before. Returns what it has if ``stop()`` is called first (nothing).
    public func takeAtStart(_ shards: [Int]) async -> Set<Int> {
        LeaseHolder.renewing.withLock { _ = $0.insert(holder.token) }
        wanted.formUnion(shards)
        var waits = 0
        while !stopped && !Task.isCancelled {
            do {
                let sent = ContinuousClock.now
                let answers = try await ask(Set(shards))
                confirmedAt = sent
                let taken = Set(shards.filter { answers[$0] == true })
                held.formUnion(taken)
                wanted.subtract(taken)
                sayOthers()
                return taken
            } catch {
                waits += 1
                if waits == 1 || waits.isMultiple(of: 10) {
                    logger.warning("shard leases: Redis not reachable to learn which shards this process may run; waiting", metadata: ["error": "\(error)"])
                }
                try? await Task.sleep(for: min(.seconds(30), retryInterval * (1 << min(waits - 1, 5))))
            }
        }
        return []
    }

    /// Returns once `shard`'s lease is held: true, or false if the keeper stopped first.
    public func waitForLease(_ shard: Int) async -> Bool {
        if held.contains(shard) { return true }
        guard !stopped else { return false }
        wanted.insert(shard)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                if Task.isCancelled { continuation.resume(returning: false) } else { waiters[shard] = continuation }
            }
        } onCancel: {
            Task { await self.resumeWaiter(shard, with: false) }
        }
    }

    /// Renews the held leases and asks for the wanted ones until cancelled or stopped. `taken`
    /// hears of shards whose lease was just taken, before their waiters go on; `lost` of shards
    /// whose lease is lost, which must close now.
    public func run(taken: @Sendable (Set<Int>) async -> Void, lost: @Sendable (Set<Int>) async -> Void) async {
        LeaseHolder.renewing.withLock { _ = $0.insert(holder.token) }
        while !stopped && !Task.isCancelled {
            await renewAndTake(taken: taken, lost: lost)
            do { try await Task.sleep(for: retryInterval) } catch { return }
        }
    }

    /// One round of ``run(taken:lost:)``.
    func renewAndTake(taken: @Sendable (Set<Int>) async -> Void, lost: @Sendable (Set<Int>) async -> Void) async {
        let renewalDue = !held.isEmpty && confirmedAt.map { ContinuousClock.now - $0 >= lifetime / 3 } ?? true
        guard renewalDue || !wanted.isEmpty else { return }
        let asked = held.union(wanted)
        let sent = ContinuousClock.now
        do {
            let answers = try await ask(asked)
            if unreachableSaid {
                unreachableSaid = false
                logger.notice("shard leases: Redis answers again")
            }
            if asked.isSuperset(of: held) { confirmedAt = sent }
            let lostNow = held.filter { asked.contains($0) && answers[$0] == false }
            let takenNow = wanted.filter { answers[$0] == true }
            sayOthers()
            if !lostNow.isEmpty {
                logger.error("shard leases: another process holds the lease of shards this one ran; they close", metadata: ["shards": "\(lostNow.sorted())"])
                await give(up: lostNow, lost: lost)
            }
            guard !takenNow.isEmpty else { return }
            held.formUnion(takenNow)
            wanted.subtract(takenNow)
            // Held even when stopped meanwhile, so that release() gives them back.
            guard !stopped else { return }
            logger.notice("shard leases: taken; the shards start", metadata: ["shards": "\(takenNow.sorted())"])
            await taken(takenNow)
            for shard in takenNow { resumeWaiter(shard, with: true) }
        } catch {
            if !unreachableSaid {
                unreachableSaid = true
                logger.warning("shard leases: Redis not reachable to renew them", metadata: ["error": "\(error)"])
            }
            // Closed before the lease can expire (the margin covers closing), so no other process
            // runs a shard this one still runs.
            if let confirmedAt, ContinuousClock.now - confirmedAt >= lifetime - lifetime / 6, !held.isEmpty {
                logger.error("shard leases: not renewed for \(ContinuousClock.now - confirmedAt); this process's shards close until it holds them again")
                await give(up: held, lost: lost)
            }
        }
    }

    private func give(up shards: Set<Int>, lost: @Sendable (Set<Int>) async -> Void) async {
        held.subtract(shards)
        if !stopped { wanted.formUnion(shards) }
        Self.lostCounter.increment(by: shards.count)
        await lost(shards)
    }

    /// Stops taking leases and lets every waiting shard go (``waitForLease(_:)`` returns false);
    /// the held ones stay held until ``release()`` or expiry.
    public func stop() {
        stopped = true
        wanted.removeAll()
        for shard in Array(waiters.keys) { resumeWaiter(shard, with: false) }
    }

    /// Stops, and gives back every held lease that is still this process's: another process
    /// waiting for them takes them at its next try.
    public func release() async {
        stop()
        LeaseHolder.renewing.withLock { _ = $0.remove(holder.token) }
        guard !held.isEmpty else { return }
        let keys = held.sorted().map(key)
        do {
            for chunk in stride(from: 0, to: keys.count, by: Self.keysPerCall) {
                _ = try await redis.evaluate(Self.releaseScript, keys: Array(keys[chunk..<min(keys.count, chunk + Self.keysPerCall)]), arguments: [holderName])
            }
            held.removeAll()
        } catch {
            logger.warning("shard leases: not given back (they expire within \(lifetime))", metadata: ["error": "\(error)"])
        }
    }

    private func resumeWaiter(_ shard: Int, with held: Bool) {
        waiters.removeValue(forKey: shard)?.resume(returning: held)
    }

    /// Logs who holds the leases this process waits for, once per holder.
    private func sayOthers() {
        let holders = Dictionary(grouping: lastOthers, by: \.value).mapValues(\.count)
        for (other, count) in holders.sorted(by: { $0.key < $1.key }) where !othersSaid.contains(other) {
            logger.notice("shard leases: held by another process; these shards wait for it to let them go", metadata: [
                "shards": "\(count)", "holder": "\(other)",
            ])
        }
        othersSaid = Set(holders.keys)
        lastOthers.removeAll()
    }

    /// Who held the leases the last call could not take, per shard.
    private var lastOthers: [Int: String] = [:]

    /// Asks Redis for the leases of `shards` (renewing those this process holds): true for each
    /// it holds now. A holder certainly gone is replaced in a second call, if still the holder.
    private func ask(_ shards: Set<Int>) async throws -> [Int: Bool] {
        let ordered = shards.sorted()
        var answers: [Int: Bool] = [:]
        var gone: [(shard: Int, holder: String)] = []
        for chunk in stride(from: 0, to: ordered.count, by: Self.keysPerCall) {
            let part = Array(ordered[chunk..<min(ordered.count, chunk + Self.keysPerCall)])
            let reply = try await redis.evaluate(Self.takeScript, keys: part.map(key), arguments: [holderName, String(lifetime.milliseconds)])
            for (shard, answer) in zip(part, reply.array ?? []) {
                if answer.int == 1 {
                    answers[shard] = true
                    continue
                }
                answers[shard] = false
                let other = answer.string ?? "?"
                if let otherHolder = LeaseHolder(other), holder.seesGone(otherHolder) {
                    gone.append((shard, other))
                } else {
                    lastOthers[shard] = other
                }
            }
        }
        for chunk in stride(from: 0, to: gone.count, by: Self.keysPerCall) {
            let part = Array(gone[chunk..<min(gone.count, chunk + Self.keysPerCall)])
            let reply = try await redis.evaluate(
                Self.takeOverScript, keys: part.map { key($0.shard) }, arguments: [holderName, String(lifetime.milliseconds)] + part.map(\.holder))
            for (item, answer) in zip(part, reply.array ?? []) where answer.int == 1 {
                answers[item.shard] = true
                logger.notice("shard leases: taken over from a process that is gone", metadata: ["shard": "\(item.shard)", "holder": "\(item.holder)"])
            }
        }
        return answers
    }

    static let keysPerCall = 1_000

    /// `kamii_shard_leases_lost_total`: shards closed because their lease was lost.
    static var lostCounter: Counter { Counter(label: "kamii_shard_leases_lost_total") }

    /// KEYS the leases; ARGV[1] the holder, ARGV[2] the lifetime in ms. Per key: 1 if held by
    /// ARGV[1] now (renewed, or taken when free), else who holds it.
    static let takeScript = RedisScript("""
        local answers = {}
        for i, key in ipairs(KEYS) do
          local holder = redis.call('GET', key)
          if holder == ARGV[1] then
            redis.call('PEXPIRE', key, ARGV[2])
            answers[i] = 1
          elseif not holder then
            redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
            answers[i] = 1
          else
            answers[i] = holder
          end
        end
        return answers
        """)

    /// KEYS the leases; ARGV[1] the holder, ARGV[2] the lifetime in ms, ARGV[2 + i] the gone holder
    /// of KEYS[i]: taken only if that one still holds it (or no one does). Per key 1 or 0.
    static let takeOverScript = RedisScript("""
        local answers = {}
        for i, key in ipairs(KEYS) do
          local holder = redis.call('GET', key)
          if not holder or holder == ARGV[2 + i] or holder == ARGV[1] then
            redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
            answers[i] = 1
          else
            answers[i] = 0
          end
        end
        return answers
        """)

    /// KEYS the leases; ARGV[1] the holder: each deleted only if still its.
    static let releaseScript = RedisScript("""
        for _, key in ipairs(KEYS) do
          if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
        end
        return 0
        """)
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
    }
}
