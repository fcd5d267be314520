public import DiscordGateway
import DiscordModels

/// Drives recorded gateway frames through the hot path the way a shard does — inflate, read the
/// envelope, hand each dispatch to the guild router and wait for it — stopping after the stage
/// asked for, so each stage's cost can be measured on the same bytes (`kamii bench-capture`, the
/// hot-path benchmarks).
public struct HotPathReplay: Sendable {
    /// How far each frame goes.
    public enum Stage: String, Sendable, CaseIterable {
        /// Inflate only.
        case inflate
        /// Inflate, then find op/s/t/guild_id.
        case envelope
        /// Inflate, envelope, the dispatch copied out as a shard passes it on, the guild actor's rules applied.
        case guildActors = "guild-actors"
    }

    /// What one replay went through.
    public struct Counts: Sendable, Equatable {
        public var frames = 0
        public var payloads = 0
        public var dispatches = 0
        public var payloadBytes = 0

        public init() {}
    }

    /// A frame the replay could not take: which one, and why.
    public struct Failure: Error, CustomStringConvertible {
        public let frame: Int
        public let underlying: String
        public var description: String { "frame \(frame): \(underlying)" }
    }

    /// Byte ranges of the frames in the capture.
    public let frames: [Range<Int>]

    /// Splits a capture into frames.
    /// - Throws: ``CaptureError`` when the capture is not well formed.
    public init(capture: UnsafeRawBufferPointer) throws {
        var frames: [Range<Int>] = []
        let base = capture.baseAddress
        try GatewayCapture.forEachFrame(in: capture) { _, frame in
            let start = frame.baseAddress.map { $0 - base! } ?? 0
            frames.append(start..<(start + frame.count))
        }
        self.frames = frames
    }

    /// Replays every frame of `capture` (the bytes this replay was made from) through `stage`,
    /// from a fresh stream on `inflater`, as shard `shard`'s session; `afterDispatch` runs after
    /// each dispatch the guild actors applied (a benchmark flushing in step with the replay).
    public func run(
        _ stage: Stage, capture: UnsafeRawBufferPointer, inflater: any GatewayInflater, router: GuildRouter?, shard: Int = 0,
        afterDispatch: (() async -> Void)? = nil
    ) async throws -> Counts {
        inflater.reset()
        var counts = Counts()
        // As a shard does: each dispatch's bytes go into the previous one's buffer.
        var storage: [UInt8] = []
        let lane = router?.stats.lane(for: shard)
        // A session's tag on every dispatch, as a shard stamps it: the flush keeps it per guild.
        let sessionTag = SessionTag.of("replayed-capture-\(shard)")
        for (index, range) in frames.enumerated() {
            counts.frames += 1
            let payload: UnsafeRawBufferPointer
            let envelope: GatewayEnvelope
            do {
                guard let inflated = try inflater.inflate(UnsafeRawBufferPointer(rebasing: capture[range])) else { continue }
                payload = inflated
                counts.payloads += 1
                counts.payloadBytes += payload.count
                guard stage != .inflate else { continue }
                envelope = try GatewayEnvelope.peek(payload)
            } catch {
                throw Failure(frame: index, underlying: "\(error)")
            }
            guard stage == .guildActors, let router, var dispatch = ShardDispatch(envelope: envelope, payload: payload, reusing: &storage) else { continue }
            dispatch.sessionTag = sessionTag
            counts.dispatches += 1
            // As `kamii run` routes: the shard's lane moves with each dispatch.
            await router.route(dispatch, lane: lane)
            await afterDispatch?()
        }
        // A capture cut inside a payload measured less than it claims to (as `inspect-capture` says).
        guard inflater.pendingInputBytes == 0 else {
            throw Failure(frame: frames.count - 1, underlying: "the capture ends inside a payload (\(inflater.pendingInputBytes) compressed bytes wait for more)")
        }
        return counts
    }
}
