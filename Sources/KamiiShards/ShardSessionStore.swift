public import KamiiRedis
public import Logging

/// A shard's session as a restarted process needs it to resume.
public struct SavedSession: Sendable, Equatable {
    public var sessionID: String
    public var sequence: Int
    public var resumeURL: String

    public init(sessionID: String, sequence: Int, resumeURL: String) {
        self.sessionID = sessionID
        self.sequence = sequence
        self.resumeURL = resumeURL
    }

    /// `v1 <seq> <session_id> <resume_gateway_url>`: none of the three contains a space.
    var encoded: String { "v1 \(sequence) \(sessionID) \(resumeURL)" }

    init?(encoded text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "v1", let sequence = Int(parts[1]), sequence >= 0, !parts[2].isEmpty,
              parts[3].hasPrefix("ws://") || parts[3].hasPrefix("wss://")
        else { return nil }
        self.init(sessionID: String(parts[2]), sequence: sequence, resumeURL: String(parts[3]))
    }
}

/// One saved session as Redis holds it.
public struct SessionRecord: Sendable, Equatable {
    public var key: String
    public var value: String
    public var ttlMilliseconds: Int

    public init(key: String, value: String, ttlMilliseconds: Int) {
        self.key = key
        self.value = value
        self.ttlMilliseconds = ttlMilliseconds
    }
}

/// Where shards' sessions are kept between processes.
public protocol ShardSessionStore: Sendable {
    func load(shards: [Int], shardCount: Int) async throws -> [Int: SavedSession]
    /// Saves every session given in one go; a shard without a session is forgotten.
    func save(_ sessions: [Int: SavedSession?], shardCount: Int) async throws
}

/// Sessions in Redis, one key per shard with a time to live: a session older than `freshness` is
/// not worth resuming (Discord will have dropped it), so it disappears on its own.
public struct RedisShardSessionStore: ShardSessionStore {
    public let freshness: Duration
    private let redis: RedisClient
    private let prefix: String
    private let logger: Logger

    /// - Parameter intents: the intents the shards identify with (their raw value), part of the key:
    ///   a session identified with other intents keeps them when resumed, so a process started
    ///   with new intents must identify — not resume, again at every quick restart, the old ones.
    public init(
        redis: RedisClient, namespace: String, intents: UInt64 = 0, freshness: Duration = .seconds(90),
        logger: Logger = Logger(label: "kamii.sessions")
    ) {
        self.redis = redis
        self.prefix = "kamii:gateway:{\(namespace)}:session:i\(intents):"
        self.freshness = freshness
        self.logger = logger
    }

    /// The shard count is part of the key: a session of shard 3 of 8 is no use to shard 3 of 16
    /// (nor, the prefix says, one identified with other intents).
    private func key(_ shard: Int, _ count: Int) -> String { "\(prefix)\(count):\(shard)" }

    public func load(shards: [Int], shardCount: Int) async throws -> [Int: SavedSession] {
        guard !shards.isEmpty else { return [:] }
        var pipeline = RedisPipeline()
        for shard in shards { pipeline.append("GET", key(shard, shardCount)) }
        let replies = try await redis.execute(pipeline)
        var sessions: [Int: SavedSession] = [:]
        for (shard, reply) in zip(shards, replies) {
            guard let text = reply.string else { continue }
            if let session = SavedSession(encoded: text) {
                sessions[shard] = session
            } else {
                logger.warning("ignoring an unreadable saved session of shard \(shard); it will identify")
            }
        }
        return sessions
    }

    public func save(_ sessions: [Int: SavedSession?], shardCount: Int) async throws {
        guard !sessions.isEmpty else { return }
        var pipeline = RedisPipeline()
        append(sessions, shardCount: shardCount, to: &pipeline)
        for reply in try await redis.execute(pipeline) {
            _ = try reply.orThrow()
        }
    }

    private func append(_ sessions: [Int: SavedSession?], shardCount: Int, to pipeline: inout RedisPipeline) {
        let ttl = String(Int(freshness / .milliseconds(1)))
        for (shard, session) in sessions {
            if let session {
                pipeline.append("EVAL", Self.monotonicSet, "1", key(shard, shardCount), session.encoded, ttl)
            } else {
                pipeline.append("DEL", key(shard, shardCount))
            }
        }
    }

    /// Saves a session unless the key holds the same session further on: two writers (the periodic
    /// save and the stats flusher's) can finish in either order, and a later `s` must never be
    /// replaced by an earlier one — a restart would then replay, and count twice, what was between.
    /// KEYS[1] the key; ARGV the record (`v1 <s> <session> <url>`: a `ForwardOnlyRecord`) and its
    /// time to live in ms.
    public static let monotonicSet = ForwardOnlyRecord.set

    /// The keys and values that save `sessions`, for a caller to write along with the work they
    /// vouch for (the stats flusher, inside its last script call).
    public func records(_ sessions: [Int: SavedSession], shardCount: Int) -> [SessionRecord] {
        let ttl = Int(freshness / .milliseconds(1))
        return sessions.map { SessionRecord(key: key($0.key, shardCount), value: $0.value.encoded, ttlMilliseconds: ttl) }
    }
}
