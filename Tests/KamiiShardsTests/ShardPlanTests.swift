import KamiiShards
import Testing

struct ShardPlanTests {
    @Test func automaticCountsFollowDiscordRoundedToWholeBuckets() throws {
        #expect(try ShardPlan(count: .automatic, selection: .all, recommended: 3, maxConcurrency: 1).shardCount == 3)
        #expect(try ShardPlan(count: .automatic, selection: .all, recommended: 1_000, maxConcurrency: 16).shardCount == 1_008)
        #expect(try ShardPlan(count: .automatic, selection: .all, recommended: 0, maxConcurrency: 1).shardCount == 1)
        #expect(try ShardPlan(count: .fixed(10), selection: .all, recommended: 1_000, maxConcurrency: 16).shards == Array(0..<10))
    }

    @Test func answersNoGatewayGivesAreRefusedNotTrappedOn() {
        for concurrency in [0, -1, Int.min, ShardPlan.maxConcurrencyLimit + 1] {
            #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .automatic, selection: .all, recommended: 1, maxConcurrency: concurrency) }
            #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(4), selection: .all, recommended: 1, maxConcurrency: concurrency) }
        }
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .automatic, selection: .all, recommended: Int.max, maxConcurrency: 16) }
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(Int.max), selection: .all, recommended: 1, maxConcurrency: 1) }
        #expect(throws: ShardPlan.Invalid.self) {
            try ShardPlan(count: .fixed(ShardPlan.shardCountLimit + 1), selection: .cluster(index: 0, of: 2), recommended: 1, maxConcurrency: 1)
        }
        #expect(
            (try? ShardPlan(count: .automatic, selection: .all, recommended: ShardPlan.shardCountLimit, maxConcurrency: 16))?.shardCount
                == ShardPlan.shardCountLimit)
    }

    @Test func rangesAndClustersAreChecked() throws {
        #expect(try ShardPlan(count: .fixed(8), selection: .range(2..<5), recommended: 1, maxConcurrency: 1).shards == [2, 3, 4])
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(8), selection: .range(6..<9), recommended: 1, maxConcurrency: 1) }
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(0), selection: .all, recommended: 1, maxConcurrency: 1) }
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(8), selection: .cluster(index: 2, of: 2), recommended: 1, maxConcurrency: 1) }
        #expect(throws: ShardPlan.Invalid.self) { try ShardPlan(count: .fixed(2), selection: .cluster(index: 0, of: 3), recommended: 1, maxConcurrency: 1) }
    }

    @Test(arguments: [(1_024, 16, 3), (1_008, 16, 4), (10, 1, 3), (10, 4, 3), (7, 2, 7), (64, 16, 8)])
    func clustersShareEveryShardOnceAndContiguously(shards: Int, maxConcurrency: Int, clusters: Int) throws {
        let parts = try (0..<clusters).map {
            try ShardPlan(count: .fixed(shards), selection: .cluster(index: $0, of: clusters), recommended: 1, maxConcurrency: maxConcurrency).shards
        }
        #expect(parts.flatMap { $0 } == Array(0..<shards))
        let sizes = parts.map(\.count)
        // As even as whole rounds of buckets allow.
        let unit = shards.isMultiple(of: maxConcurrency) && shards / maxConcurrency >= clusters ? maxConcurrency : 1
        #expect(sizes.max()! - sizes.min()! <= unit)
        if unit > 1 { #expect(parts.allSatisfy { $0.first! % maxConcurrency == 0 }) }
    }

    @Test func theNamespaceIsTheBotIDNeverTheToken() {
        // A token's first part is the bot's ID in base64.
        let token = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.secret-part"
        #expect(ShardManagerConfiguration(token: token, intents: []).resolvedNamespace == "1100000000000000001")
        let opaque = ShardManagerConfiguration(token: "simulated.bot.token", intents: []).resolvedNamespace
        #expect(opaque.hasPrefix("token-") && !opaque.contains("simulated"))
        #expect(ShardManagerConfiguration(token: "x", intents: [], namespace: "prod").resolvedNamespace == "prod")
    }
}

extension ShardPlanTests {
    /// Each guild's events arrive on `(guild_id >> 22) % shard_count` (Discord's sharding formula),
    /// and in a cluster exactly one process runs that shard: the one whose waiting level-ups those are.
    @Test func everyGuildBelongsToExactlyOneProcessOfACluster() throws {
        #expect(ShardPlan.shard(of: 197_038_439_483_310_086, count: 16) == 2)
        #expect(ShardPlan.shard(of: 197_038_439_483_310_086, count: 1_008) == 482)
        #expect(ShardPlan.shard(of: 12_345, count: 16) == 0, "created in Discord's first four milliseconds")
        let plans = try (0..<4).map { try ShardPlan(count: .fixed(1_008), selection: .cluster(index: $0, of: 4), recommended: 0, maxConcurrency: 16) }
        for guild in stride(from: UInt64(1) << 40, to: UInt64(1) << 62, by: Int(UInt64(1) << 50 / 7 + 12_345)) {
            let shard = ShardPlan.shard(of: guild, count: 1_008)
            #expect(plans.filter { $0.shards.contains(shard) }.count == 1)
        }
    }
}
