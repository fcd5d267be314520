extension ShardManager {
    /// With Redis, takes the leases of the plan's shards that no other live process holds and
    /// returns those (the shards that start now; the others wait for their lease); without, all.
    func takeLeases(_ plan: ShardPlan, namespace: String) async -> Set<Int> {
        guard case .redis(let redis) = coordination else { return Set(plan.shards) }
        let keeper = ShardLeaseKeeper(
            redis: redis, namespace: namespace, shardCount: plan.shardCount, lifetime: configuration.leaseLifetime,
            retryInterval: configuration.leaseRetryInterval, logger: logger)
        leases = keeper
        if shuttingDown { await keeper.stop() }
        let taken = await keeper.start(plan.shards, lost: { shards in await self.leasesLost(shards) })
        for id in taken { preparedGenerations[id] = await keeper.generation(of: id) }
        if taken.count < plan.shards.count, !shuttingDown {
            logger.notice("\(plan.shards.count - taken.count) of this process's shards run in another one; they start here once it lets them go", metadata: [
                "holder": "\(keeper.holderName)",
            ])
        }
        return taken
    }

    /// The leases of `lost` are gone (another process holds them, or they could not be renewed in
    /// time): their shards' connections are dropped now, and reconnect once their lease is back
    /// (their connect gate waits for it). They leave their bucket's start order, which they would
    /// otherwise hold for as long as they wait.
    func leasesLost(_ lost: Set<Int>) async {
        // Told first: the lease may be taken again while the connections close, and the consumer
        // must hear of that after this.
        await releasedHandler?(lost)
        for id in lost.sorted() {
            await shards[id]?.dropConnection()
            await identifyGate?.forget(shard: id)
            logger.warning("shard \(id): its lease is lost; its connection closes until it holds the lease again")
        }
    }

    /// Waits until this process holds `shard`'s lease (false: the manager stops first) and, after
    /// each taking of it, until the consumer has prepared for the shard — together with every other
    /// shard taken and not prepared for yet (thousands taken in one round of a deploy are one
    /// `prepare`: it reads their guilds' state from Redis, which per shard would read it all again
    /// each time).
    func passLeaseGate(_ shard: Int) async -> Bool {
        guard let leases else { return true }
        guard await leases.waitForLease(shard) else { return false }
        // Nil: lost again already — the connection made now is dropped as soon as it is up.
        if let generation = await leases.generation(of: shard), preparedGenerations[shard] != generation {
            // Empty when another shard's pass, while this one awaited, took this one in.
            let due = await leases.heldGenerations().filter { preparedGenerations[$0.key] != $0.value }
            if !due.isEmpty {
                let prepare = prepareHandler
                let preparation = Task<Void, Never> { await prepare?(Set(due.keys)) }
                for (id, taken) in due {
                    preparedGenerations[id] = taken
                    preparations[id] = preparation
                }
            }
        }
        if let preparation = preparations.removeValue(forKey: shard) { await preparation.value }
        return true
    }

    /// The session saved for `shard`, read once its lease is taken: the last process to run it
    /// saved it as it let the lease go.
    func loadSession(_ shard: Int) async -> SavedSession? {
        guard let sessionStore, let plan else { return nil }
        do {
            return try await sessionStore.load(shards: [shard], shardCount: plan.shardCount)[shard]
        } catch {
            logger.warning("saved session of shard \(shard) unreadable", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Gives back the leases of this process's shards, for a process waiting for them to take at
    /// once (rather than after they expire). ``run(consumers:prepare:released:releasingLeases:)``
    /// does it as it returns unless told not to; a caller that makes the shards' work durable
    /// after that (the hot path's last flush, with the sessions it saves) calls this once it has.
    public func releaseLeases() async {
        await leases?.release()
    }

    /// How many of this process's shards wait for their lease (another process runs them).
    public func shardsWaitingForLease() async -> Int {
        await leases?.waitingCount ?? 0
    }
}
