import Foundation
import KamiiTestSupport
import Testing

/// `simulate capture --stream` (the same world's traffic a day later) and `bench-capture
/// --redis-primed-by` (the flush measured into members Redis already holds), as `ops/bench` runs them.
@Suite struct BenchCapturePrimedTests {
    static let world = ["--compress", "zlib-stream", "--payloads", "1500", "--guilds", "20", "--users", "300", "--seed", "3"]

    /// The world's capture (stream 0) and the same traffic a day later (stream 1).
    static func writeBothDays() async throws -> (first: TemporaryFile, later: TemporaryFile) {
        let first = try TemporaryFile(Data())
        let later = try TemporaryFile(Data())
        for (file, stream) in [(first, "0"), (later, "1")] {
            let result = try await Kamii.run(["simulate", "capture", file.path, "--stream", stream] + world)
            #expect(result.status == 0, "\(result.stderr)")
        }
        return (first, later)
    }

    /// Each human MESSAGE_CREATE's guild, author and message ID, in order.
    static func messages(in path: String) async throws -> [(guild: String, author: String, id: UInt64)] {
        let listing = try await Kamii.run(["inspect-capture", path, "--compress", "zlib-stream", "--json"])
        #expect(listing.status == 0, "\(listing.stderr)")
        return try listing.stdout.split(separator: "\n").compactMap { line in
            let payload = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard payload["t"] as? String == "MESSAGE_CREATE", let data = payload["d"] as? [String: Any],
                let author = data["author"] as? [String: Any], author["bot"] as? Bool != true, data["webhook_id"] == nil,
                let guild = data["guild_id"] as? String, let user = author["id"] as? String, let id = UInt64(data["id"] as? String ?? "")
            else { return nil }
            return (guild, user, id)
        }
    }

    @Test func aLaterStreamIsTheSameTrafficADayLater() async throws {
        let (first, later) = try await Self.writeBothDays()
        let before = try await Self.messages(in: first.path)
        let after = try await Self.messages(in: later.path)
        #expect(before.count > 1_000 && after.count > 1_000)
        let samePairs = zip(before, after).filter { $0.guild == $1.guild && $0.author == $1.author }.count
        #expect(Double(samePairs) >= 0.95 * Double(min(before.count, after.count)), "\(samePairs) of \(before.count)")
        // Message IDs carry their time (ms since Discord's epoch, above bit 22): a day later, every one.
        let lastBefore = try #require(before.map { $0.id >> 22 }.max())
        let firstAfter = try #require(after.map { $0.id >> 22 }.min())
        #expect(firstAfter >= lastBefore, "the later stream's messages come after the first's")
        #expect(firstAfter - (before.map { $0.id >> 22 }.min() ?? 0) >= 86_400_000)

        let refused = try await Kamii.run(["simulate", "capture", later.path, "--stream", "1024", "--payloads", "5"])
        #expect(refused.status != 0 && refused.stderr.contains("--stream must be below 1024"), "\(refused.stderr)")
    }

    /// Primed with the same day's capture, none of the measured pass's messages earns XP again: the
    /// primer went through the same actors and keys (the actors remember those messages; Redis would
    /// refuse them too). Primed with the day before, they earn XP — and only the measured pass's
    /// grants are counted, not the primer's.
    @Test(.enabled(if: RedisTestServer.configuration != nil))
    func aPrimedBenchMeasuresTheCaptureIntoMembersRedisHolds() async throws {
        let configuration = try #require(RedisTestServer.configuration)
        let (first, later) = try await Self.writeBothDays()
        let prefix = "kamii-bench-primed-\(UInt64.random(in: 0...UInt64.max))"
        func bench(_ measured: String, primedBy primer: String) async throws -> (grants: Int, stdout: String) {
            let result = try await Kamii.run([
                "bench-capture", measured, "--compress", "zlib-stream", "--passes", "2", "--stages", "guild-actors",
                "--redis", "redis://\(configuration.host):\(configuration.port)", "--stats-prefix", prefix,
                "--xp-cooldown-seconds", "0", "--redis-primed-by", primer,
            ])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("... members known to redis"), "\(result.stdout)")
            // The grants line is there at 0 too: a count never made fails here, not as "no grants".
            let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("earned XP (") }, "\(result.stdout)")
            let grants = try #require(line.split(separator: "(").last?.split(separator: " ").first.flatMap { Int($0) }, "\(line)")
            return (grants, result.stdout)
        }
        let again = try await bench(first.path, primedBy: first.path)
        #expect(again.grants == 0, "\(again.stdout)")
        let dayLater = try await bench(later.path, primedBy: first.path)
        let humanMessages = try await Self.messages(in: later.path).count
        #expect(dayLater.grants > humanMessages, "two passes of \(humanMessages) messages, nearly all earning XP: \(dayLater.stdout)")
        #expect(dayLater.grants <= 2 * humanMessages, "the primers' grants are not the passes': \(dayLater.stdout)")
        let redis = try RedisTestServer.client()
        #expect(try await redis.keys(matching: prefix + "*").isEmpty)
        await redis.close()

        let unprimed = try await Kamii.run(["bench-capture", later.path, "--compress", "zlib-stream", "--redis-primed-by", first.path])
        #expect(unprimed.status != 0 && unprimed.stderr.contains("--redis-primed-by needs --redis"), "\(unprimed.stderr)")
    }
}
