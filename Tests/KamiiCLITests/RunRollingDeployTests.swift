import DiscordSimulator
import Foundation
import KamiiTestSupport
import Testing

extension RunHotPathTests {
    /// A rolling deploy: a second `kamii run` started while the first runs takes none of its shards
    /// (both would resume the same sessions: each taking them from the other, or both counting
    /// every message); once the first is stopped it takes them, resumes the sessions the first
    /// saved, and the totals end exact — nothing lost in the handover, nothing counted twice.
    @Test func aProcessStartedBeforeTheOldOneStopsTakesItsShardsOnlyWhenItLetsThemGo() async throws {
        let database = Self.temporaryDatabase()
        defer { Self.remove(database: database) }
        let (server, redis, prefix, environment) = try await Self.runWithXPRules(seed: 100, database: database)
        func messagesSent() -> Int { server.record.connections.reduce(0) { $0 + ($1.dispatches["MESSAGE_CREATE"] ?? 0) } }

        let old = try RunningKamii(["run"], environment: environment)
        try await old.waitFor("a fifth of the traffic") { $0.contains("xp_grants=") && messagesSent() > 3_000 }
        let new = try RunningKamii(["run"], environment: environment)
        try await new.waitFor("the new process waiting for the old one's shards") { $0.contains("shards_waiting_for_lease=2") }
        #expect(server.record.connections.count == 2, "the new process connected no shard while the old one runs them")
        #expect(messagesSent() < 12_000, "stopped mid-traffic")
        #expect(await old.stop() == 0, "\(old.log.suffix(3_000))")

        let overcounted = try await Self.waitForExactXP(new, server, redis, prefix: prefix)
        #expect(await new.stop() == 0)
        #expect(new.log.contains("shard leases: taken"), "\(new.log.suffix(3_000))")
        #expect(Set(server.record.connections.compactMap(\.sessionID)).count == 2, "the new process resumed the old one's sessions")
        #expect(overcounted == 0, "messages counted twice: \(overcounted)")
        await redis.close()
        try await server.stop()
    }
}
