import DiscordModels
import KamiiRedis

extension StatsFlusher {
    /// Marks the members of the journal entries Redis refused the way karma receivers are marked —
    /// each guild's dirty set, and the guild in `{dirty-guilds}` — which the checkpointer reads as
    /// well; false (keeping them) while Redis does not take that either.
    func writeUnjournaled() async -> Bool {
        guard !unjournaled.isEmpty else { return true }
        let keys = configuration.keys
        var members: [UInt64: Set<UInt64>] = [:]
        for (_, entry) in unjournaled { ChangeJournal.read(entry, into: &members) }
        guard !members.isEmpty else {
            unjournaled = []
            return true
        }
        let marks = members.map { (guild: $0.key, users: $0.value) }
        let guilds = marks.map(\.guild)
        var pipeline = RedisPipeline()
        pipeline.appendDirtyMarks(keys, marks)
        do {
            let replies = try await redis.execute(pipeline)
            for (index, reply) in replies.enumerated() {
                guard case .error(let message) = reply else { continue }
                // A guild whose dirty set is not a set has keys Kamii did not write (the flusher
                // reports it broken): it cannot be marked, and must not hold back every other guild.
                if index < guilds.count && message.hasPrefix("WRONGTYPE") {
                    if brokenGuilds.insert(guilds[index]).inserted {
                        logger.error("a guild's dirty set is not what Kamii writes; its members are not marked for the checkpointer", metadata: ["guild": "\(guilds[index])", "error": "\(message)"])
                    }
                    continue
                }
                throw RedisError.server(message)
            }
            if !journalBypassed {
                journalBypassed = true
                logger.warning("the change journal refuses entries; their members are marked in their guilds' dirty sets instead", metadata: [
                    "key": "\(keys.changeJournal)", "entries": "\(unjournaled.count)",
                ])
            }
            unjournaled = []
            journalRefused = false
            return true
        } catch {
            guard !journalRefused else { return false }
            journalRefused = true
            logger.error("members whose changes are in Redis could not be marked for the checkpointer; flushing waits until they are", metadata: [
                "entries": "\(unjournaled.count)", "error": "\(error)",
            ])
            return false
        }
    }
}
