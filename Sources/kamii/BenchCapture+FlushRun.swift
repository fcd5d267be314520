import DiscordGateway
import KamiiCore
import KamiiRedis
import KamiiStats

extension BenchCapture {
    /// One pass's flush to Redis: its guild actors, its buffer and flusher, its keys. A primed pass
    /// replays the primer and then the measured capture through the same run, as one bot that has
    /// been running a while.
    struct FlushRun: Sendable {
        let buffer = StatsBuffer()
        let router: GuildRouter
        let flusher: StatsFlusher

        init(redis: RedisClient, prefix: String, settings: FixedGuildSettings) {
            // Each flush saves the shards' sessions in its own transaction, as `kamii run`'s do (the
            // commit that ends each flush's transaction is part of what Redis does per flush).
            let sessionPrefix = prefix + ":session:"
            flusher = StatsFlusher(
                buffer: buffer, redis: redis, configuration: .init(keys: StatsKeys(prefix: prefix)),
                durableWrites: { positions in
                    positions.map { (sessionPrefix + String($0.key), "v1 \($0.value.sequence) bench-capture wss://gateway.invalid", 600_000) }
                })
            router = GuildRouter(stats: buffer, settings: settings)
        }

        /// Flushes what is left; a flush that does not finish within a minute (Redis gone, refusing)
        /// stops the bench rather than leaving changes to be counted in the next pass.
        func drain() async throws {
            guard await flusher.drain(deadline: .seconds(60)) else {
                throw InspectError("the flush to Redis did not finish within a minute (is Redis up and accepting writes?)")
            }
        }

        /// Replays a capture through the run's actors, flushed as the flusher does at its threshold
        /// but in step with the replay: every flush holds the default 5,000 changes whatever this
        /// machine's timing (a flusher running beside a replay this fast sends bigger, cheaper
        /// flushes, and a figure that moves from run to run).
        func replay(
            _ replay: HotPathReplay, _ capture: UnsafeRawBufferPointer, _ compression: GatewayCompression,
            afterDispatch: @escaping () async -> Void
        ) async throws -> HotPathReplay.Counts {
            try await BenchCapture.replay(replay, .guildActors, capture, compression, router) {
                await afterDispatch()
                if buffer.unacknowledged >= buffer.flushThreshold { _ = await flusher.flush() }
            }
        }
    }
}
