import DiscordModels
public import KamiiRedis
public import KamiiStore
public import Logging
import Foundation
import KamiiCore

/// Copies the members whose counters changed from Redis into SQL `server_users`, every interval
/// and at shutdown: Redis holds the live truth, SQL its checkpoint (what the panel reads, what a
/// guild Redis lost is rehydrated from).
///
/// Nothing marked dirty is forgotten, whatever fails or crashes: a guild's dirty set is first moved
/// (atomically) into a set being checkpointed, which is deleted only once SQL has its rows; a
/// checkpoint that fails or never finishes leaves it for the next one. The guild list works the
/// same way.
public actor Checkpointer {
    public struct Report: Sendable, Equatable {
        public var guilds = 0
        public var members = 0
        public var failures = 0
    }

    private let store: KamiiStore
    private let redis: RedisClient
    private let keys: StatsKeys
    private let logger: Logger
    public private(set) var totals = Report()

    public init(store: KamiiStore, redis: RedisClient, keys: StatsKeys = StatsKeys(), logger: Logger = Logger(label: "kamii.checkpoint")) {
        self.store = store
        self.redis = redis
        self.keys = keys
        self.logger = logger
    }

    /// Checkpoints every `interval` until cancelled, then once more.
    public func run(interval: Duration) async {
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { break }
            _ = await checkpoint()
        }
        _ = await checkpoint()
    }

    /// One checkpoint of everything marked dirty so far.
    @discardableResult
    public func checkpoint() async -> Report {
        var report = Report()
        let guilds: [GuildID]
        do {
            guilds = try await take(keys.dirtyGuilds).compactMap { UInt64($0).map(GuildID.init) }
        } catch {
            logger.error("checkpoint: Redis did not answer", metadata: ["error": "\(error)"])
            report.failures += 1
            totals.failures += 1
            return report
        }
        for guild in guilds {
            do {
                report.members += try await checkpoint(guild)
                report.guilds += 1
                _ = try await redis.send("SREM", keys.dirtyGuilds + ":checkpointing", String(guild.rawValue))
            } catch {
                report.failures += 1
                logger.error("checkpoint of a guild failed; it stays marked", metadata: ["guild": "\(guild)", "error": "\(error)"])
            }
        }
        totals.guilds += report.guilds
        totals.members += report.members
        totals.failures += report.failures
        return report
    }

    private func checkpoint(_ guild: GuildID) async throws -> Int {
        let dirty = keys.dirtyMembers(in: guild)
        let users = try await take(dirty).compactMap { UInt64($0).map(UserID.init) }
        guard !users.isEmpty else { return 0 }
        var pipeline = RedisPipeline()
        for user in users {
            pipeline.append("HMGET", keys.user(user, in: guild), "xp", "level", "karma", "msgs", "avatar", "joined", "pending", "verified", "trust")
        }
        let replies = try await redis.execute(pipeline)
        let now = Date()
        let nowMilliseconds = UInt64(now.timeIntervalSince1970 * 1_000)
        let rows = zip(users, replies).compactMap { user, reply -> ServerUserStats? in
            let fields = reply.array ?? []
            // No hash at all: the member was purged (a privacy request) or never had one.
            guard fields.contains(where: { !$0.isNull }) else { return nil }
            let value = { (index: Int) in index < fields.count ? fields[index].int : nil }
            // Trust with everything known now: the member event's profile, activity and karma.
            let signals = TrustFactor.Signals(
                accountCreatedAt: user.unixMilliseconds, hasAvatar: value(4).map { $0 != 0 },
                joinedAt: value(5).flatMap { $0 > 0 ? UInt64($0) : nil }, isPending: value(6) == 1, isVerified: value(7) == 1,
                messages: value(3) ?? 0, karma: value(2) ?? 0)
            // No profile (no member event since this Redis was loaded from SQL): keep the trust it has.
            let trust = value(4) == nil ? value(8).map { min(100, max(0, $0)) } : nil
            return ServerUserStats(
                guild: guild, user: user, xp: Int64(value(0) ?? 0), level: value(1) ?? 0, karma: Int64(value(2) ?? 0),
                trust: trust ?? TrustFactor.score(signals, now: nowMilliseconds).value, messageCount: Int64(value(3) ?? 0), updatedAt: now)
        }
        if !rows.isEmpty, try await !upsert(rows) {
            // A guild the store has not met yet (joined while it was away): register it, then write.
            try await store.registerGuild(guild)
            _ = try await upsert(rows)
        }
        var done = RedisPipeline()
        // Only into a hash that still exists: a member purged meanwhile stays purged.
        for row in rows {
            done.append("EVAL", "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'trust', ARGV[1]) end",
                        "1", keys.user(row.user, in: guild), String(row.trust))
        }
        done.append("DEL", dirty + ":checkpointing")
        for reply in try await redis.execute(done) { _ = try reply.orThrow() }
        return rows.count
    }

    /// Writes the rows; false when the store does not know the guild yet.
    private func upsert(_ rows: [ServerUserStats]) async throws -> Bool {
        do {
            try await store.upsertServerUsers(rows)
            return true
        } catch {
            if error.kind == .unknownGuild { return false }
            throw error
        }
    }

    /// Moves `set` into `set:checkpointing` (adding to what a failed checkpoint left there) and
    /// returns everything in it.
    private func take(_ set: String) async throws -> [String] {
        let reply = try await redis.evaluate(Self.takeScript, keys: [set, set + ":checkpointing"], arguments: [])
        return (reply.array ?? []).compactMap(\.string)
    }

    private static let takeScript = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
            redis.call('DEL', KEYS[1])
        end
        return redis.call('SMEMBERS', KEYS[2])
        """)
}
