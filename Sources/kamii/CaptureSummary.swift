import DiscordModels

/// What `inspect-capture` counts while it reads a capture.
struct CaptureSummary {
    var frames = 0
    var payloads = 0
    var compressedBytes = 0
    var payloadBytes = 0
    var dispatches = 0
    /// The last dispatch sequence seen, to report breaks an operator would want to know about.
    var lastSequence: Int?
    /// Dispatches whose `s` was not one more than the previous dispatch's: lost, repeated or reordered.
    var sequenceBreaks = 0

    mutating func record(_ envelope: GatewayEnvelope, bytes: Int) {
        payloads += 1
        payloadBytes += bytes
        guard envelope.opcode == .dispatch else { return }
        dispatches += 1
        if let sequence = envelope.sequence {
            if let lastSequence, lastSequence == .max || sequence != lastSequence + 1 { sequenceBreaks += 1 }
            lastSequence = sequence
        }
    }

    func line(compression: some CustomStringConvertible) -> String {
        "summary: frames=\(frames) payloads=\(payloads) dispatches=\(dispatches) sequence_breaks=\(sequenceBreaks)"
            + " compressed_bytes=\(compressedBytes) payload_bytes=\(payloadBytes) compression=\(compression)"
    }
}
