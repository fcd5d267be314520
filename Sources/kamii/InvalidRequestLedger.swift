import DiscordREST
import Foundation
import KamiiRedis
import KamiiShards
import Logging
import ServiceLifecycle

/// The host's invalid REST answers (401, 403, 429 but `shared`) kept in Redis beyond the process.
///
/// Discord bans an IP that gets 10,000 within 10 minutes, whichever process got them; the REST
/// client's budget begins empty at each start, so a process restarted in a loop (a crash, a
/// supervisor) could spend it whole at each start. The ledger counts them per minute in Redis
/// (`kamii:rest:invalid:{<host>}:<minute>`, kept 11 minutes), gives the client those of the last
/// ten minutes at start, and adds the client's own every second — and once more as it stops.
/// Keyed by host, not bot: processes of one host share its IP.
struct InvalidRequestLedger: Service {
    let redis: RedisClient
    let rest: DiscordRESTClient
    let host: String
    /// How often the client's new answers are added: a process that crashes loses at most this
    /// much of its count (a read of a counter, and a write only when it moved).
    var interval: Duration = .seconds(1)
    let logger: Logger
    /// Unix seconds (tests give their own).
    var clock: @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }

    static let window: Int64 = 600

    func key(minute: Int64) -> String { "kamii:rest:invalid:{\(host)}:\(minute)" }

    /// Gives the client the host's answers of the last ten minutes, each taken as at the end of its
    /// minute (kept a little longer than Discord may, never shorter). Returns how many.
    @discardableResult
    func carryOver() async -> Int {
        let now = clock()
        let minutes = Array((now - Self.window) / 60...now / 60)
        let counts: [Int]
        do {
            var read = RedisPipeline()
            read.append(["MGET"] + minutes.map(key(minute:)))
            counts = try await redis.execute(read).first?.orThrow().array?.map { $0.string.flatMap(Int.init) ?? 0 } ?? []
        } catch {
            logger.warning("the host's recent invalid REST answers could not be read; the budget starts empty", metadata: ["error": "\(error)"])
            return 0
        }
        var ages: [Duration] = []
        for (minute, count) in zip(minutes, counts) where count > 0 {
            let age = max(0, now - (minute * 60 + 59))
            ages += repeatElement(.seconds(age), count: min(count, 10_000))
        }
        rest.carryOver(invalidAnswersAgo: ages)
        if !ages.isEmpty {
            logger.notice("invalid REST answers of the last ten minutes count against this process's budget", metadata: ["answers": "\(ages.count)"])
        }
        return ages.count
    }

    /// Adds the answers counted since `written` to this minute's count; returns the new total
    /// written (unchanged when Redis did not take it: tried again next time).
    func write(since written: Int) async -> Int {
        let counted = rest.invalidAnswersCounted
        guard counted > written else { return written }
        let key = key(minute: clock() / 60)
        var pipeline = RedisPipeline()
        pipeline.append("INCRBY", key, String(counted - written))
        pipeline.append("EXPIRE", key, String(Self.window + 60))
        do {
            for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
            return counted
        } catch {
            return written
        }
    }

    func run() async throws {
        var written = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } } catch { break }
            written = await write(since: written)
        }
        _ = await write(since: written)
    }
}
