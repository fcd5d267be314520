import ArgumentParser
import CAllocationCounter
import DiscordGateway
import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiStore

/// `kamii bench-capture`: replays a capture through the hot path in this process — inflate,
/// envelope, guild actors with Kamii's default rules, and with `--redis` the flush to Redis — and
/// reports each stage's rate per CPU-second, so operators can size machines and anyone can compare
/// Kamii with other libraries on the same capture.
struct BenchCapture: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-capture",
        abstract: "Measure the hot path, stage by stage, on a recorded gateway session.",
        discussion: """
            Loads the capture into memory and replays it --passes times per stage, each pass on a fresh \
            stream with fresh guild actors. Reports the median pass: payloads per CPU-second (this \
            process's CPU time, all threads), per wall-second, and each stage against inflate alone; \
            and allocation calls (malloc, calloc, realloc, aligned) per payload over all passes, every \
            thread counted, the passes' set-up included (fresh streams, a guild actor's creation). \
            With --redis, also the flush to Redis (writing under --stats-prefix; a flush every 5,000 \
            changes, in step with the replay, each saving the shard's session as kamii run's do) and \
            Redis's own CPU time per million messages (from \
            INFO cpu). Several captures are replayed at once through one set of guild actors, each as \
            its own shard (a capture is one shard's session; captures of different seeds hold different \
            guilds): how the hot path scales across cores. Build with `-c release` for meaningful figures.
            """
    )

    @Argument(help: "The capture file; several are replayed at once, one shard each.")
    var files: [String]

    @Option(help: "The connection's transport compression.")
    var compress: GatewayCompression

    @Option(help: "How many times to replay the capture per stage.")
    var passes = 5

    @Option(parsing: .upToNextOption, help: "Only these stages (inflate, envelope, guild-actors); inflate always runs, as the yardstick.")
    var stages: [String] = HotPathReplay.Stage.allCases.map(\.rawValue)

    @Option(help: "Also flush to this Redis (redis://host:port) and measure it.")
    var redis: String?

    @Option(help: "The key prefix the Redis stage writes under (its keys are deleted afterwards).")
    var statsPrefix = "kamii-bench"

    @Option(help: "Give karma for reactions with this emoji (off by default, as in a guild that has not switched karma on).")
    var karmaEmoji: String?

    @Option(help: """
        With --redis: before each pass, replay this capture (same compression, same world, earlier \
        messages: `simulate capture --stream 0` for a measured `--stream 1`) through the same guild \
        actors into the same keys, unmeasured — so the measured capture meets members Redis already \
        holds, as a bot that has run a while does. Without it every pass starts from empty keys.
        """)
    var redisPrimedBy: String?

    @Option(help: "The XP cooldown in seconds (default: Kamii's 60). 0: every member's message earns XP (but a second one of the same member in the same millisecond) — the Redis worst case the issue's target is set on.")
    var xpCooldownSeconds: Int?

    /// Kamii's defaults, with karma on and the XP cooldown changed when asked.
    private var settings: FixedGuildSettings {
        var settings = GuildSettings.defaults
        if let karmaEmoji { settings.karma = KarmaRules(emoji: [karmaEmoji], cooldownMilliseconds: 0) }
        if let xpCooldownSeconds {
            var xp = GuildConfig.XPSettings()
            xp.cooldownSeconds = xpCooldownSeconds
            settings.xp = XPRules(xp)
        }
        return FixedGuildSettings(settings)
    }

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Name a capture file.") }
        guard redis == nil || files.count == 1 else { throw ValidationError("--redis measures one capture at a time.") }
        guard redisPrimedBy == nil || redis != nil else { throw ValidationError("--redis-primed-by needs --redis") }
        guard passes > 0 else { throw ValidationError("--passes must be positive") }
        if let xpCooldownSeconds, !(0...86_400).contains(xpCooldownSeconds) { throw ValidationError("--xp-cooldown-seconds must be 0 to 86400") }
        guard RunConfiguration.isValidStatsPrefix(statsPrefix) else {
            throw ValidationError("--stats-prefix must be \(RunConfiguration.statsPrefixRule): its keys are found and deleted by pattern")
        }
        for stage in stages where HotPathReplay.Stage(rawValue: stage) == nil {
            throw ValidationError("--stages: \(stage) is not one of \(HotPathReplay.Stage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let redisConfiguration = try redis.map { url in
            do { return try RedisConfiguration(url: url) } catch { throw ValidationError("--redis: \(error)") }
        }
        var shards: [LoadedCapture] = []
        defer { for shard in shards { shard.capture.deallocate() } }
        for file in files { shards.append(try LoadedCapture(file: file, compression: compress)) }
        let primer = try redisPrimedBy.map { try LoadedCapture(file: $0, compression: compress) }
        defer { primer?.capture.deallocate() }
        let (replay, capture) = (shards[0].replay, UnsafeRawBufferPointer(shards[0].capture))
        var rows: [StageFigures] = []
        do {
            for stage in HotPathReplay.Stage.allCases where stage == .inflate || stages.contains(stage.rawValue) {
                rows.append(try await measure(stage.rawValue, passes: passes) {
                    let router = stage == .guildActors ? GuildRouter(stats: StatsBuffer(capacity: .max / 2), settings: settings) : nil
                    return try await Self.replay(shards, stage, compress, router)
                })
            }
            if let redisConfiguration {
                let redis = RedisClient(configuration: redisConfiguration)
                var pass = 0
                var grants = 0
                var redisCPU = 0.0
                let steady = SteadyState(dispatchesAtMost: replay.frames.count)
                rows.append(try await measure(
                    primer == nil ? "guild-actors + redis flush" : "... members known to redis", passes: passes,
                    prepare: {
                        // A prefix per pass: the same messages again would meet their own cooldowns.
                        pass += 1
                        let fresh = FlushRun(redis: redis, prefix: "\(statsPrefix)-\(pass)", settings: settings)
                        if let primer {
                            _ = try await fresh.replay(primer.replay, UnsafeRawBufferPointer(primer.capture), compress) {}
                            // Whatever the primer left unflushed would be flushed, and counted, in the pass.
                            try await fresh.drain()
                        }
                        grants -= await fresh.flusher.totals.grantsApplied
                        redisCPU -= try await Self.redisCPUSeconds(redis)
                        return fresh
                    },
                    { [steady] run in
                        steady.begin()
                        let counts = try await run.replay(replay, capture, compress) { steady.dispatched() }
                        try await run.drain()
                        steady.end()
                        return counts
                    },
                    finish: { run in
                        redisCPU += try await Self.redisCPUSeconds(redis)
                        // The grants Redis applied (the flush re-checks each cooldown), not the actors' count.
                        grants += await run.flusher.totals.grantsApplied
                        // Gone before the next pass: each pass meets a keyspace of its own size.
                        try await Self.deleteKeys(prefix: "\(statsPrefix)-\(pass):", redis)
                    }))
                rows[rows.count - 1].redisCPUSeconds = redisCPU
                rows[rows.count - 1].xpGrants = grants
                rows[rows.count - 1].steadyAllocationsPerDispatch = steady.perDispatch
                rows[rows.count - 1].redisBaselineCPUSeconds = try await Self.plainWrites(
                    (rows.last?.counts.dispatches ?? 0) * passes, prefix: "\(statsPrefix)-baseline:", redis)
                await redis.close()
            }
        }
        StageFigures.print(rows, passes: passes)
        if shards.count > 1 { print("\(shards.count) captures replayed at once, one shard each") }
    }

    /// A capture read into memory the async stages can hold across suspensions (Data lends its
    /// bytes only to a synchronous closure), and its frames.
    private struct LoadedCapture: @unchecked Sendable {
        let capture: UnsafeMutableRawBufferPointer
        let replay: HotPathReplay

        init(file: String, compression: GatewayCompression) throws {
            let source = try CaptureReplay(file: file, compression: compression)
            capture = UnsafeMutableRawBufferPointer.allocate(byteCount: source.capture.count, alignment: 16)
            source.capture.copyBytes(to: capture)
            do { replay = try HotPathReplay(capture: UnsafeRawBufferPointer(capture)) } catch {
                capture.deallocate()
                throw InspectError("\(file): \(error)")
            }
        }
    }

    /// Replays every capture at once, shard `i` the `i`th, and adds up what they went through.
    private static func replay(
        _ shards: [LoadedCapture], _ stage: HotPathReplay.Stage, _ compression: GatewayCompression, _ router: GuildRouter?
    ) async throws -> HotPathReplay.Counts {
        guard shards.count > 1 else { return try await replay(shards[0].replay, stage, UnsafeRawBufferPointer(shards[0].capture), compression, router) }
        return try await withThrowingTaskGroup(of: HotPathReplay.Counts.self) { group in
            for (shard, loaded) in shards.enumerated() {
                group.addTask {
                    try await replay(loaded.replay, stage, UnsafeRawBufferPointer(loaded.capture), compression, router, shard: shard)
                }
            }
            var total = HotPathReplay.Counts()
            for try await counts in group {
                total.frames += counts.frames
                total.payloads += counts.payloads
                total.dispatches += counts.dispatches
                total.payloadBytes += counts.payloadBytes
            }
            return total
        }
    }

    static func replay(
        _ replay: HotPathReplay, _ stage: HotPathReplay.Stage, _ capture: UnsafeRawBufferPointer, _ compression: GatewayCompression,
        _ router: GuildRouter?, shard: Int = 0, afterDispatch: (() async -> Void)? = nil
    ) async throws -> HotPathReplay.Counts {
        do {
            return try await replay.run(
                stage, capture: capture, inflater: compression.makeInflater(), router: router, shard: shard, afterDispatch: afterDispatch)
        } catch {
            throw InspectError("the capture stopped making sense: \(error) (is --compress \(compression) right?)")
        }
    }

    /// Runs `pass` `passes` times: the figures of a stage that needs nothing made before each pass.
    private func measure(_ name: String, passes: Int, _ pass: () async throws -> HotPathReplay.Counts) async throws -> StageFigures {
        try await measure(name, passes: passes, prepare: {}, { _ in try await pass() }, finish: { _ in })
    }

    /// Runs `pass` `passes` times, each on what `prepare` made for it; `prepare` runs before each
    /// pass and `finish` after it, both outside its times and allocation count.
    private func measure<Prepared>(
        _ name: String, passes: Int, prepare: () async throws -> Prepared, _ pass: (Prepared) async throws -> HotPathReplay.Counts,
        finish: (Prepared) async throws -> Void
    ) async throws -> StageFigures {
        var samples: [(wall: Double, cpu: Double)] = []
        var counts = HotPathReplay.Counts()
        var allocations: UInt64 = 0
        for _ in 0..<passes {
            let prepared = try await prepare()
            do {
                kamii_allocation_counting(true)
                defer { kamii_allocation_counting(false) }
                let allocationsBefore = kamii_allocation_count()
                let wallStart = ContinuousClock.now
                let cpuStart = Self.processCPUSeconds()
                counts = try await pass(prepared)
                let wall = ContinuousClock.now - wallStart
                samples.append((Double(wall / .microseconds(1)) / 1e6, Self.processCPUSeconds() - cpuStart))
                allocations += kamii_allocation_count() - allocationsBefore
            }
            try await finish(prepared)
        }
        guard counts.payloads > 0 else { throw InspectError("the capture holds no payloads") }
        let median = samples.sorted { $0.cpu < $1.cpu }[samples.count / 2]
        return StageFigures(
            name: name, counts: counts, wallSeconds: median.wall, cpuSeconds: median.cpu,
            allocationsPerPayload: Double(allocations) / Double(counts.payloads * passes))
    }

    static func processCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// Redis's CPU seconds for `count` plain writes, one per dispatch, as the baseline in the same run:
    /// an HSET of a record-sized value into one of 5,000 guild hashes, pipelined 5,000 to a round trip
    /// — no script. This VM's speed moves by 10-25 % within minutes, Redis's with it; the flush's
    /// figure divided by this one does not.
    private static func plainWrites(_ count: Int, prefix: String, _ redis: RedisClient) async throws -> Double {
        let record = [UInt8](repeating: 7, count: 43)
        let before = try await redisCPUSeconds(redis)
        for start in stride(from: 0, to: count, by: 5_000) {
            var pipeline = RedisPipeline()
            for index in start..<min(start + 5_000, count) {
                pipeline.beginCommand(arguments: 4)
                pipeline.appendArgument("HSET")
                pipeline.appendArgument("\(prefix){\(index % 5_000)}:members")
                pipeline.appendArgument(index)
                pipeline.appendArgument(bytes: record)
            }
            for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
        }
        let seconds = try await redisCPUSeconds(redis) - before
        try await deleteKeys(prefix: prefix, redis)
        return seconds
    }

    /// Deletes the keys the Redis stage wrote, and only those.
    private static func deleteKeys(prefix: String, _ redis: RedisClient) async throws {
        let keys = try await redis.keys(matching: prefix + "*")
        for start in stride(from: 0, to: keys.count, by: 1_000) {
            var pipeline = RedisPipeline()
            pipeline.append(["UNLINK"] + keys[start..<min(start + 1_000, keys.count)])
            _ = try await redis.execute(pipeline)
        }
    }

    private static func redisCPUSeconds(_ redis: RedisClient) async throws -> Double {
        let info = try await redis.send("INFO", "cpu").string ?? ""
        return info.split(whereSeparator: \.isNewline).reduce(0) { total, line in
            let parts = line.split(separator: ":")
            guard parts.count == 2, parts[0] == "used_cpu_sys" || parts[0] == "used_cpu_user" else { return total }
            return total + (Double(parts[1]) ?? 0)
        }
    }
}

/// One stage's median pass.
struct StageFigures {
    let name: String
    let counts: HotPathReplay.Counts
    let wallSeconds: Double
    let cpuSeconds: Double
    /// Allocation calls per payload, over every pass.
    let allocationsPerPayload: Double
    var redisCPUSeconds: Double?
    /// Redis's CPU for the same number of plain writes (``BenchCapture`` `plainWrites`), same run.
    var redisBaselineCPUSeconds: Double?
    /// Messages that earned XP over every pass of the Redis stage (the target counts those).
    var xpGrants: Int?
    /// Allocation calls per dispatch over the second half of each pass of the Redis stage (``SteadyState``).
    var steadyAllocationsPerDispatch: Double?

    var perCPUSecond: Double { Double(counts.payloads) / max(cpuSeconds, 1e-9) }

    static func print(_ rows: [StageFigures], passes: Int) {
        guard let baseline = rows.first else { return }
        Swift.print("\(baseline.counts.payloads) payloads (\(baseline.counts.payloadBytes) bytes inflated) in \(baseline.counts.frames) frames; median of \(passes) passes")
        Swift.print("stage".padding(toLength: 28, withPad: " ", startingAt: 0) + "  payloads/CPU-s   payloads/s (wall)   vs inflate   mallocs/payload")
        for row in rows {
            let line = row.name.padding(toLength: 28, withPad: " ", startingAt: 0)
                + String(
                    format: "  %14.0f   %17.0f   %10.3f   %15.3f", row.perCPUSecond, Double(row.counts.payloads) / row.wallSeconds,
                    row.perCPUSecond / baseline.perCPUSecond, row.allocationsPerPayload)
            Swift.print(line)
        }
        for row in rows {
            guard let redisCPU = row.redisCPUSeconds else { continue }
            let messages = Double(row.counts.dispatches * passes)
            Swift.print(String(format: "redis: %.2f CPU-s per million dispatches (%.2f s over %d passes)", redisCPU / messages * 1e6, redisCPU, passes))
            if let steady = row.steadyAllocationsPerDispatch {
                Swift.print(String(format: "steady state, the second half of each pass (its guilds' actors made): %.3f mallocs per dispatch, the flush included", steady))
            }
            if let grants = row.xpGrants {
                Swift.print(grants > 0
                    ? String(format: "redis: %.2f CPU-s per million messages that earned XP (%d of %.0f dispatches)", redisCPU / Double(grants) * 1e6, grants, messages)
                    : String(format: "redis: no message earned XP (0 of %.0f dispatches)", messages))
            }
            if let baseline = row.redisBaselineCPUSeconds, baseline > 0 {
                Swift.print(String(
                    format: "redis baseline, one plain pipelined HSET per dispatch in the same Redis: %.2f CPU-s per million; the flush %.2fx that",
                    baseline / messages * 1e6, redisCPU / baseline))
            }
        }
    }
}

/// Allocation calls over the second half of each pass's dispatches: by then the capture's guilds
/// have their actors (5,000 guilds, 50,000 dispatches), so what is left is the per-event cost at
/// steady state — the flushes, and the drain that ends the pass, included. The allocation count is
/// noted at every dispatch into room reserved beforehand (no allocation of its own), and the middle
/// is picked once the pass has ended: a capture's frames need not all be dispatches.
final class SteadyState {
    private var marks: [UInt64]
    private(set) var allocations: UInt64 = 0
    private(set) var dispatches = 0

    init(dispatchesAtMost: Int) {
        marks = []
        marks.reserveCapacity(dispatchesAtMost)
    }

    func begin() { marks.removeAll(keepingCapacity: true) }

    func dispatched() {
        if marks.count < marks.capacity { marks.append(kamii_allocation_count()) }
    }

    func end() {
        guard !marks.isEmpty else { return }
        let middle = marks.count / 2
        allocations += kamii_allocation_count() - marks[middle]
        dispatches += marks.count - middle
    }

    var perDispatch: Double? { dispatches > 0 ? Double(allocations) / Double(dispatches) : nil }
}
