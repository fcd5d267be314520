import Foundation
import Testing

/// `kamii inspect-capture` run as an operator runs it: the built binary, on the Python-made captures.
@Suite struct InspectCaptureTests {
    struct Manifest: Decodable {
        struct Payload: Decodable {
            let frame: Int
            let length: Int
            let op: Int
            let s: Int?
            let t: String?
        }
        let compression: String
        let frames: Int
        let payloads: [Payload]
    }

    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("DiscordGatewayTests/Fixtures")

    static let manifest: [String: Manifest] = {
        let data = try! Data(contentsOf: fixtures.appendingPathComponent("manifest.json"))
        return try! JSONDecoder().decode([String: Manifest].self, from: data)
    }()

    @Test(arguments: manifest.keys.sorted())
    func listsEveryPayloadAndASummary(_ name: String) throws {
        let expected = try #require(Self.manifest[name])
        let result = try Kamii.run(["inspect-capture", Self.fixtures.appendingPathComponent(name).path, "--compress", expected.compression])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == expected.payloads.count + 1)
        for (line, payload) in zip(lines, expected.payloads) {
            #expect(line == "frame=\(payload.frame) op=\(payload.op) s=\(payload.s.map(String.init) ?? "-") t=\(payload.t ?? "-") bytes=\(payload.length)")
        }
        let payloadBytes = expected.payloads.reduce(0) { $0 + $1.length }
        #expect(lines.last?.hasPrefix("summary: frames=\(expected.frames) payloads=\(expected.payloads.count) ") == true)
        #expect(lines.last?.contains(" payload_bytes=\(payloadBytes) compression=\(expected.compression)") == true)
    }

    @Test func jsonModePrintsEachPayloadAndTheSummaryOnStandardError() throws {
        let expected = try #require(Self.manifest["zstd-small.capture"])
        let result = try Kamii.run(["inspect-capture", Self.fixtures.appendingPathComponent("zstd-small.capture").path, "--compress", "zstd-stream", "--json"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == expected.payloads.count)
        for (line, payload) in zip(lines, expected.payloads) {
            #expect(line.utf8.count == payload.length)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["op"] as? Int == payload.op)
            #expect(object["t"] as? String == payload.t)
        }
        #expect(result.stderr.hasPrefix("summary: frames=300 payloads=300"))
    }

    @Test func aCorruptFrameIsNamedAndTheListingStopsThere() throws {
        var capture = try Data(contentsOf: Self.fixtures.appendingPathComponent("zlib-small.capture"))
        // Frame 5's first deflate byte: mark its block as the reserved type 11.
        var offset = 0
        for _ in 0..<5 { offset += 4 + Int(capture[offset]) + Int(capture[offset + 1]) << 8 }
        capture[offset + 4] |= 0x06
        let file = try TemporaryFile(capture)
        let result = try Kamii.run(["inspect-capture", file.path, "--compress", "zlib-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("frame 5: zlib-stream: corrupt data: invalid block type"), "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 5)
    }

    @Test func aTruncatedFileIsNamedByFrame() throws {
        let capture = try Data(contentsOf: Self.fixtures.appendingPathComponent("zstd-small.capture"))
        let file = try TemporaryFile(capture.prefix(1_000))
        let result = try Kamii.run(["inspect-capture", file.path, "--compress", "zstd-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the length prefix says"), "\(result.stderr)")
        #expect(result.stderr.range(of: #"frame \d+ \(at byte \d+\)"#, options: .regularExpression) != nil)
    }

    @Test func theWrongCompressionSaysSo() throws {
        let path = Self.fixtures.appendingPathComponent("zstd-small.capture").path
        let result = try Kamii.run(["inspect-capture", path, "--compress", "zlib-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the capture ends inside a payload"), "\(result.stderr)")
        let plain = try Kamii.run(["inspect-capture", path, "--compress", "none"])
        #expect(plain.status != 0)
        #expect(plain.stderr.contains("frame 0: invalid JSON at byte 0"), "\(plain.stderr)")
    }

    @Test func aMissingFileOrAnUnknownCompressionIsAClearError() throws {
        let missing = try Kamii.run(["inspect-capture", "/nonexistent/session.capture", "--compress", "zlib-stream"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read /nonexistent/session.capture"))
        let unknown = try Kamii.run(["inspect-capture", "x", "--compress", "brotli"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("brotli"))
    }
}

/// The `kamii` binary built next to this test bundle.
enum Kamii {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("kamii")

    static func run(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Read both pipes before waiting, so a large listing cannot fill a pipe and stall the child.
        let errors = DispatchQueue(label: "stderr")
        nonisolated(unsafe) var errorData = Data()
        let group = DispatchGroup()
        errors.async(group: group) { errorData = stderr.fileHandleForReading.readDataToEndOfFile() }
        let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outputData, as: UTF8.self), stderr: String(decoding: errorData, as: UTF8.self))
    }
}

/// A file that deletes itself when the test is done with it.
final class TemporaryFile {
    let path: String

    init(_ contents: Data) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).capture").path
        try contents.write(to: URL(fileURLWithPath: path))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
