public import ArgumentParser
public import DiscordGateway
public import DiscordSimulator
import DiscordModels
import Foundation

extension GatewayCompression: ExpressibleByArgument {}

extension DeflaterSettings: ExpressibleByArgument {
    public init?(argument: String) { self.init(named: argument) }
    public static var allValueStrings: [String] { ["discord", "fast"] }
    public var defaultValueDescription: String { self == .fast ? "fast" : "discord" }
}

/// `kamii inspect-capture`: decodes a recorded gateway session and lists its payloads.
struct InspectCapture: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect-capture",
        abstract: "List the payloads of a recorded gateway session.",
        discussion: """
            A capture is a file of gateway frames, each a little-endian UInt32 length followed by \
            that many bytes, exactly as received on the WebSocket. Prints one line per payload \
            (frame index, op, s, t, byte length) and a summary line. With --json, prints each \
            payload's JSON on its own line and the summary on standard error.
            """
    )

    @Argument(help: "The capture file.")
    var file: String

    @Option(help: "The connection's transport compression: \(GatewayCompression.allCases.map(\.rawValue).joined(separator: ", ")).")
    var compress: GatewayCompression

    @Flag(help: "Print each payload's JSON instead of its summary line.")
    var json = false

    func run() throws {
        let replay = try CaptureReplay(file: file, compression: compress)
        var summary = CaptureSummary()
        let output = BufferedOutput(FileHandle.standardOutput, name: "standard output")
        // Payloads before a bad frame are still shown, so the operator sees where it went wrong.
        defer { try? output.flush() }
        summary.frames = try replay.replay(on: compress.makeInflater()) { index, payload, envelope in
            summary.record(envelope, bytes: payload.count)
            if json {
                try output.write(payload)
                try output.write("\n")
            } else {
                try output.write(Self.line(frame: index, envelope: envelope, bytes: payload.count))
            }
        }
        summary.compressedBytes = replay.capture.count - 4 * summary.frames
        try output.flush()
        if json {
            FileHandle.standardError.write(Data((summary.line(compression: compress) + "\n").utf8))
        } else {
            print(summary.line(compression: compress))
        }
    }

    static func line(frame: Int, envelope: GatewayEnvelope, bytes: Int) -> String {
        let sequence = envelope.sequence.map(String.init) ?? "-"
        return "frame=\(frame) op=\(envelope.opcode.rawValue) s=\(sequence) t=\(envelope.eventName ?? "-") bytes=\(bytes)\n"
    }
}
