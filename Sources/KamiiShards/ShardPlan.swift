/// Which shards exist and which of them this process runs.
public struct ShardPlan: Sendable, Equatable {
    /// How many shards the bot has.
    public enum Count: Sendable, Equatable {
        /// Discord's recommendation (`/gateway/bot` `shards`), rounded up to a multiple of
        /// `max_concurrency` so every identify window is used fully.
        case automatic
        case fixed(Int)
    }

    /// The part this process runs.
    public enum Selection: Sendable, Equatable {
        case all
        /// Shards `lowerBound ..< upperBound`.
        case range(Range<Int>)
        /// Cluster `index` of `count`: contiguous, as even as whole buckets allow.
        case cluster(index: Int, of: Int)
    }

    public let shardCount: Int
    public let shards: [Int]

    public struct Invalid: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// More shards than any bot runs (the largest run a few thousand): a count past it is a
    /// mistake, and planning it would allocate without bound.
    public static let shardCountLimit = 65_536
    /// Discord's `max_concurrency` is 1 for most bots, 16 or a higher power of two for large ones.
    public static let maxConcurrencyLimit = 4_096

    /// - Parameters:
    ///   - recommended: `/gateway/bot`'s `shards`.
    ///   - maxConcurrency: `/gateway/bot`'s `session_start_limit.max_concurrency`. Both come from
    ///     the network, so an answer no gateway gives is refused here, with what it said.
    public init(count: Count, selection: Selection, recommended: Int, maxConcurrency: Int) throws(Invalid) {
        guard (1...Self.maxConcurrencyLimit).contains(maxConcurrency) else {
            throw Invalid(description: "GET /gateway/bot answered max_concurrency \(maxConcurrency); Discord's is 1...\(Self.maxConcurrencyLimit)")
        }
        let concurrency = maxConcurrency
        switch count {
        case .automatic:
            guard recommended <= Self.shardCountLimit else {
                throw Invalid(description: "GET /gateway/bot recommended \(recommended) shards, more than \(Self.shardCountLimit)")
            }
            let wanted = max(1, recommended)
            shardCount = concurrency > 1 ? (wanted + concurrency - 1) / concurrency * concurrency : wanted
        case .fixed(let fixed):
            guard fixed > 0 else { throw Invalid(description: "the shard count must be at least 1 (got \(fixed))") }
            guard fixed <= Self.shardCountLimit else {
                throw Invalid(description: "the shard count must be at most \(Self.shardCountLimit) (got \(fixed))")
            }
            shardCount = fixed
        }
        switch selection {
        case .all:
            shards = Array(0..<shardCount)
        case .range(let range):
            guard range.lowerBound >= 0, range.upperBound <= shardCount, !range.isEmpty else {
                throw Invalid(description: "shard range \(range.lowerBound)..<\(range.upperBound) is not within 0..<\(shardCount)")
            }
            shards = Array(range)
        case .cluster(let index, let clusters):
            guard clusters > 0, (0..<clusters).contains(index) else {
                throw Invalid(description: "cluster \(index) of \(clusters) does not exist (clusters are numbered from 0)")
            }
            guard clusters <= shardCount else {
                throw Invalid(description: "\(clusters) clusters cannot share \(shardCount) shards")
            }
            // Whole rounds of buckets per cluster where possible, so each cluster starts its shards
            // at full identify concurrency; the remainder spread one round at a time.
            let unit = shardCount.isMultiple(of: concurrency) && shardCount / concurrency >= clusters ? concurrency : 1
            let units = shardCount / unit
            let start = index * units / clusters * unit
            let end = (index + 1) * units / clusters * unit
            shards = Array(start..<end)
        }
    }

    /// The shard a guild's events arrive on: `(guild_id >> 22) % shard_count`.
    public static func shard(of guild: UInt64, count: Int) -> Int {
        Int((guild >> 22) % UInt64(max(1, count)))
    }
}
