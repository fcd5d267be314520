import DiscordGateway

extension ShardManager {
    func loadSessions(_ shards: [Int], of plan: ShardPlan, namespace: String) async -> [Int: SavedSession] {
        guard case .redis(let redis) = coordination else { return [:] }
        let store = RedisShardSessionStore(
            redis: redis, namespace: namespace, intents: configuration.intents.rawValue, freshness: configuration.sessionFreshness, logger: logger)
        sessionStore = store
        do {
            let sessions = try await store.load(shards: shards, shardCount: plan.shardCount)
            if !sessions.isEmpty { logger.info("resuming \(sessions.count) saved sessions") }
            return sessions
        } catch {
            logger.warning("saved sessions unreadable; every shard identifies", metadata: ["error": "\(error)"])
            return [:]
        }
    }

    func saveSessionsPeriodically() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: configuration.sessionSaveInterval)
            if Task.isCancelled || shuttingDown { return }
            await saveSessions()
        }
    }

    /// The consumer's work is durable up to these positions (shard → its session number and `s`):
    /// each shard records it, so every later save stays within it.
    public func markDurable(_ positions: [Int: (session: Int, sequence: Int)]) async {
        for (id, position) in positions {
            await shards[id]?.markDurable(session: position.session, sequence: position.sequence)
        }
    }

    /// The records that save the sessions at these positions (shards whose session has changed
    /// since are left out), for the caller to write together with the work they vouch for, so a
    /// process killed after that work is durable resumes from it. Empty without Redis sessions.
    public func sessionRecords(at positions: [Int: (session: Int, sequence: Int)]) async -> [SessionRecord] {
        guard let store = sessionStore as? RedisShardSessionStore, let plan else { return [] }
        var sessions: [Int: SavedSession] = [:]
        let held = await leases?.held
        for (id, position) in positions where stopReasons[id].map({ $0 == .shutdown }) ?? true && held?.contains(id) ?? true {
            // A shard stopped for good has no session to resume (its key was deleted).
            guard let shard = shards[id], let current = await shard.session(ifNumbered: position.session) else { continue }
            sessions[id] = SavedSession(sessionID: current.id, sequence: position.sequence, resumeURL: current.resumeURL)
        }
        return store.records(sessions, shardCount: plan.shardCount)
    }

    /// Saves every shard's session; a shard that stopped for good (or has none) is forgotten, so a
    /// restart identifies it afresh.
    func saveSessions() async {
        guard let sessionStore, let plan else { return }
        var sessions: [Int: SavedSession?] = [:]
        // A shard whose lease is lost is another process's to save (or to forget).
        let held = await leases?.held
        for (id, shard) in shards where held?.contains(id) ?? true {
            let stoppedForGood = stopReasons[id].map { $0 != .shutdown } ?? false
            let session = stoppedForGood ? nil : await shard.session
            sessions[id] = session.map { SavedSession(sessionID: $0.id, sequence: $0.sequence, resumeURL: $0.resumeURL) }
        }
        do {
            try await sessionStore.save(sessions, shardCount: plan.shardCount)
        } catch {
            logger.warning("could not save shard sessions", metadata: ["error": "\(error)"])
        }
    }
}
