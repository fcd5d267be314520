import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiStats
import KamiiTestSupport
import Testing

/// A guild's batch marker names the last batch applied; when another process's replaces it (the
/// shard moved, a rolling restart), each process's latest is kept aside (`~batch-others`), so a
/// batch retried after a lost reply is applied once whoever flushed the guild in between.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct OtherProcessesBatchTests {
    let guild = GuildID((UInt64.random(in: 1...(1 << 40))) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// The flush of batch `id`: `messages` messages of member 5, the batch begun recording at
    /// `recordedAfter` (Unix ms; 0: before any deletion).
    func flush(_ id: String, messages: Int, recordedAfter: UInt64? = nil, sha: String) -> RedisPipeline {
        var batch = GuildStatsBatch()
        for _ in 0..<messages { batch.countMessage(by: 5) }
        if let recordedAfter { batch.recordedAfter = recordedAfter }
        var flush = PendingFlush(id: id, batches: [guild.rawValue: batch], keys: keys, guildsPerCall: 1)
        return flush.pipeline(scriptHash: sha)
    }

    /// The guild's reply: -1 when its batch was applied before.
    func appliedBefore(_ replies: [RedisValue]) -> Bool { replies.first?.array?.first == .integer(-1) }

    func messages(_ redis: RedisClient) async throws -> Int? {
        try await StatsReader(redis: redis, keys: keys).member(UserID(5), in: guild)?.messages
    }

    /// Judged by this process's own last batch in the guild, kept aside when the other's marker
    /// replaced it: applied once, not again — and a batch that never ran still runs.
    @Test func aBatchRetriedAfterAnotherProcessFlushedTheGuildIsAppliedOnce() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        let (first, sameAgain) = (flush("a1-100", messages: 1, sha: sha), flush("a1-100", messages: 1, sha: sha))
        #expect(!appliedBefore(try await redis.execute(first)), "process a1 applies its batch (its reply lost)")
        #expect(!appliedBefore(try await redis.execute(flush("b2-5", messages: 2, sha: sha))), "process b2 flushes the guild")
        #expect(appliedBefore(try await redis.execute(sameAgain)), "a1's retry: applied already")
        #expect(appliedBefore(try await redis.execute(flush("b2-5", messages: 2, sha: sha))), "b2's own retry, as before")
        #expect(try await messages(redis) == 3)
        // a1 again: a batch it never sent before is applied, and keeps b2's marker aside in turn.
        #expect(!appliedBefore(try await redis.execute(flush("a1-101", messages: 4, sha: sha))))
        #expect(appliedBefore(try await redis.execute(flush("b2-5", messages: 2, sha: sha))), "b2's batch, judged by b2's marker kept aside")
        #expect(!appliedBefore(try await redis.execute(flush("b2-6", messages: 8, sha: sha))))
        #expect(try await messages(redis) == 15)
        #expect(try await redis.send("HGET", keys.members(in: guild), StatsKeys.otherProcessesBatchField).string == "a1-101")
        await redis.close()
    }

    /// A batch the guild's deletion voids still writes its marker: the marker it replaces, another
    /// process's batch begun after the deletion, is kept aside, so that batch's retry is not
    /// applied a second time.
    @Test func aBatchTheGuildsDeletionVoidsKeepsTheOtherProcessesMarkerAside() async throws {
        let redis = try RedisTestServer.client()
        let sha = try await redis.load(StatsFlushScript.script)
        try await StatsPurge(redis: redis, keys: keys).purge(guild)
        let afterDeletion = UInt64(Date().timeIntervalSince1970 * 1_000) + 3_600_000
        let fromB = flush("b2-5", messages: 2, recordedAfter: afterDeletion, sha: sha)
        #expect(!appliedBefore(try await redis.execute(fromB)), "b2's batch, begun after the deletion (its reply lost)")
        #expect(!appliedBefore(try await redis.execute(flush("a1-100", messages: 1, recordedAfter: 0, sha: sha))), "a1's, begun before: voided")
        #expect(try await messages(redis) == 2)
        #expect(appliedBefore(try await redis.execute(flush("b2-5", messages: 2, recordedAfter: afterDeletion, sha: sha))), "b2's retry")
        #expect(try await messages(redis) == 2)
        await redis.close()
    }
}
