public import KamiiRedis
public import Logging
import Metrics

/// A process's leases on its shards, in Redis: a shard runs only in the process holding its lease
/// (`kamii:gateway:{namespace}:lease:<count>:<shard>`, the holder as its value, expiring after
/// ``lifetime``). Without them a rolling deploy that starts the new process before the old one
/// stops has both resume the same saved sessions — each taking the session from the other, or both
/// identifying and counting every message twice.
///
/// The keeper takes the leases it can at start (``start(_:lost:)``); a shard whose lease another
/// process holds waits (``waitForLease(_:)``) while the keeper asks for it every `retryInterval`
/// and renews the held ones every third of their lifetime, all in one script call. A lease found
/// in another's hands, or not renewed for two thirds of its lifetime (Redis away), is lost: its
/// shard must close before the lease can expire and another process take it. A holder that is
/// certainly gone (a crashed process on this machine) is not waited for. Processes sharding by
/// another count (a deploy after Discord's recommendation changed, with `shards: auto`) hold
/// `kamii:gateway:{namespace}:lease-count`: no lease of this count is taken until their last
/// renewal has expired — two counts running at once would give a guild to two sessions.
public actor ShardLeaseKeeper {
    public nonisolated let lifetime: Duration
    private let retryInterval: Duration
    private let redis: RedisClient
    private let prefix: String
    private let countKey: String
    private let shardCount: Int
    private let holder: LeaseHolder
    private let logger: Logger
    /// The shards whose lease this process holds.
    public private(set) var held: Set<Int> = []
    /// Shards waiting for their lease.
    private var wanted: Set<Int> = []
    /// How many times each shard's lease was taken: a shard's consumer prepares again for each.
    private var generations: [Int: Int] = [:]
    private var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
    /// When the last call that renewed every held lease was sent: they hold until a lifetime after.
    private var confirmedAt: ContinuousClock.Instant?
    /// Takes no more leases (``stop()``).
    private var stopped = false
    /// The leases were given back (``release()``): nothing more is kept.
    private var released = false
    /// The renewals and the deadline's watch, from ``start(_:lost:)`` to ``release()``.
    private var keeping: Task<Void, Never>?
    /// Told of shards whose lease is lost.
    private var lost: (@Sendable (Set<Int>) async -> Void)?
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
        self.countKey = "kamii:gateway:{\(namespace)}:lease-count"
        self.shardCount = shardCount
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

    /// Whether this process holds `shard`'s lease now.
    public func holds(_ shard: Int) -> Bool { held.contains(shard) }

    /// Which taking of `shard`'s lease is held now (counted from 1), or nil if it is not held: a
    /// lease lost and taken again is another.
    public func generation(of shard: Int) -> Int? { held.contains(shard) ? generations[shard] : nil }

    /// ``generation(of:)`` of every held lease.
    public func heldGenerations() -> [Int: Int] {
        Dictionary(uniqueKeysWithValues: held.map { ($0, generations[$0] ?? 0) })
    }

    private func taking(_ shards: Set<Int>) {
        held.formUnion(shards)
        wanted.subtract(shards)
        for shard in shards { generations[shard, default: 0] += 1 }
    }

    /// How many shards wait for their lease now.
    public var waitingCount: Int { wanted.count }

    func key(_ shard: Int) -> String { "\(prefix)\(shard)" }

    /// Takes the leases of `shards` that no live process holds and returns those; from then until
    /// ``release()`` it keeps them: renews them every third of their lifetime, asks every
    /// `retryInterval` for those still wanted (until ``stop()``), and gives up the held ones
    /// (`lost`: their shards must close) when another process holds them or two thirds of their
    /// lifetime passed without a renewal — a deadline watched on its own timer, so a Redis call
    /// that hangs cannot carry a shard past its lease. The keeping is a task of the keeper's own,
    /// not of the caller's: it must outlive the shards, renewing while the consumer makes durable
    /// what they delivered, until the caller gives the leases back. Redis away at start is waited
    /// for: which shards this process may run is not known before.
    public func start(_ shards: [Int], lost: @escaping @Sendable (Set<Int>) async -> Void) async -> Set<Int> {
        LeaseHolder.renewing.withLock { _ = $0.insert(holder.token) }
        self.lost = lost
        wanted.formUnion(shards)
        var waits = 0
        var taken: Set<Int> = []
        while !stopped && !Task.isCancelled {
            do {
                let sent = ContinuousClock.now
                let answers = try await ask(Set(shards))
                confirmedAt = sent
                taken = Set(shards.filter { answers[$0] == true })
                taking(taken)
                sayOthers()
                break
            } catch {
                waits += 1
                if waits == 1 || waits.isMultiple(of: 10) {
                    logger.warning("shard leases: Redis not reachable to learn which shards this process may run; waiting", metadata: ["error": "\(error)"])
                }
                await sleepUnlessStopped(min(.seconds(30), retryInterval * (1 << min(waits - 1, 5))))
            }
        }
        if !released { keeping = Task { await self.keep() } }
        return stopped ? [] : taken
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

    private func keep() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isCancelled {
                    await self.renewAndTake()
                    do { try await Task.sleep(for: self.retryInterval) } catch { return }
                }
            }
            group.addTask { await self.watchDeadline() }
        }
    }

    /// How long after the last renewal the held leases are given up: a third of their lifetime is
    /// left for their shards to close before another process may take them.
    private var giveUpAfter: Duration { lifetime * 2 / 3 }

    private func watchDeadline() async {
        while !Task.isCancelled {
            let now = ContinuousClock.now
            let deadline = held.isEmpty ? nil : confirmedAt.map { $0 + giveUpAfter }
            do { try await Task.sleep(until: deadline.map { max($0, now) } ?? now + retryInterval, clock: .continuous) } catch { return }
            if !held.isEmpty, let confirmedAt, ContinuousClock.now - confirmedAt >= giveUpAfter {
                logger.error("shard leases: not renewed for \(ContinuousClock.now - confirmedAt); this process's shards close until it holds them again")
                await give(up: held)
            }
        }
    }

    /// One round of the keeping: renews the held leases when due, asks for the wanted ones.
    func renewAndTake() async {
        let renewalDue = !held.isEmpty && confirmedAt.map { ContinuousClock.now - $0 >= lifetime / 3 } ?? true
        guard renewalDue || !(stopped || wanted.isEmpty) else { return }
        let asked = held.union(stopped ? [] : wanted)
        let sent = ContinuousClock.now
        do {
            let answers = try await ask(asked)
            if unreachableSaid {
                unreachableSaid = false
                logger.notice("shard leases: Redis answers again")
            }
            // Every lease held now was asked for (the deadline's give-up only takes some away).
            confirmedAt = sent
            sayOthers()
            let lostNow = held.filter { answers[$0] == false }
            // Held in Redis now: those waited for, and any given up meanwhile but still this
            // process's. Held even when stopped meanwhile, so that release() gives them back.
            let takenNow = asked.filter { answers[$0] == true && !held.contains($0) }
            taking(takenNow)
            if !lostNow.isEmpty {
                logger.error("shard leases: another process holds the lease of shards this one ran; they close", metadata: ["shards": "\(lostNow.sorted())"])
                await give(up: lostNow)
            }
            if !takenNow.isEmpty, !stopped {
                logger.notice("shard leases: taken; the shards start", metadata: ["shards": "\(takenNow.sorted())"])
                for shard in takenNow { resumeWaiter(shard, with: true) }
            }
        } catch {
            if !unreachableSaid {
                unreachableSaid = true
                logger.warning("shard leases: Redis not reachable to renew them", metadata: ["error": "\(error)"])
            }
        }
    }

    private func give(up shards: Set<Int>) async {
        let shards = shards.intersection(held)
        guard !shards.isEmpty else { return }
        held.subtract(shards)
        if !stopped { wanted.formUnion(shards) }
        Self.lostCounter.increment(by: shards.count)
        await lost?(shards)
    }

    private func sleepUnlessStopped(_ duration: Duration) async {
        let until = ContinuousClock.now + duration
        while !stopped, ContinuousClock.now < until {
            do { try await Task.sleep(for: min(retryInterval, until - ContinuousClock.now)) } catch { return }
        }
    }

    /// Takes no more leases and lets every waiting shard go (``waitForLease(_:)`` returns false);
    /// the held ones are still renewed, until ``release()``.
    public func stop() {
        stopped = true
        wanted.removeAll()
        for shard in Array(waiters.keys) { resumeWaiter(shard, with: false) }
    }

    /// Stops, ends the renewals, and gives back every held lease that is still this process's:
    /// another process waiting for them takes them at its next try.
    public func release() async {
        stop()
        released = true
        keeping?.cancel()
        // A renewal in flight must not land after the leases are given back (it would take them again).
        await keeping?.value
        keeping = nil
        LeaseHolder.renewing.withLock { _ = $0.remove(holder.token) }
        guard !held.isEmpty else { return }
        let keys = held.sorted().map(key)
        do {
            for chunk in stride(from: 0, to: keys.count, by: Self.keysPerCall) {
                _ = try await redis.evaluate(Self.releaseScript, keys: Array(keys[chunk..<min(keys.count, chunk + Self.keysPerCall)]), arguments: [holderName])
            }
            held.removeAll()
            // The last of this count to go lets processes of another count start at once.
            _ = try await redis.evaluate(Self.releaseCountScript, keys: [countKey], arguments: [prefix, String(shardCount)])
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
            let reply = try await redis.evaluate(
                Self.takeScript, keys: [countKey] + part.map(key), arguments: [holderName, String(lifetime.milliseconds), String(shardCount)])
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
                Self.takeOverScript, keys: [countKey] + part.map { key($0.shard) },
                arguments: [holderName, String(lifetime.milliseconds), String(shardCount)] + part.map(\.holder))
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
}

extension Duration {
    fileprivate var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1_000 + attoseconds / 1_000_000_000_000_000)
    }
}
