import DiscordGateway
import Foundation
import KamiiTestSupport
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

    /// The frames of a fixture capture, to edit and write back with `GatewayCapture.encode`.
    static func frames(ofFixture name: String) throws -> [[UInt8]] {
        let capture = try Data(contentsOf: fixtures.appendingPathComponent(name))
        var frames: [[UInt8]] = []
        try capture.withUnsafeBytes { bytes in try GatewayCapture.forEachFrame(in: bytes) { _, frame in frames.append(Array(frame)) } }
        return frames
    }

    @Test(arguments: manifest.keys.sorted())
    func listsEveryPayloadAndASummary(_ name: String) async throws {
        let expected = try #require(Self.manifest[name])
        let result = try await Kamii.run(["inspect-capture", Self.fixtures.appendingPathComponent(name).path, "--compress", expected.compression])
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

    @Test func jsonModePrintsEachPayloadAndTheSummaryOnStandardError() async throws {
        let expected = try #require(Self.manifest["zstd-small.capture"])
        let result = try await Kamii.run(["inspect-capture", Self.fixtures.appendingPathComponent("zstd-small.capture").path, "--compress", "zstd-stream", "--json"])
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

    @Test func aCorruptFrameIsNamedAndTheListingStopsThere() async throws {
        var frames = try Self.frames(ofFixture: "zlib-small.capture")
        // Frame 5's first deflate byte: mark its block as the reserved type 11.
        frames[5][0] |= 0x06
        let file = try TemporaryFile(Data(GatewayCapture.encode(frames)))
        let result = try await Kamii.run(["inspect-capture", file.path, "--compress", "zlib-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("frame 5: zlib-stream: corrupt data: invalid block type"), "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").count == 5)
    }

    @Test func theLargestSequenceNumberIsABreakNotACrash() async throws {
        let payloads = [#"{"op":0,"s":9223372036854775807,"t":"X","d":{}}"#, #"{"op":0,"s":1,"t":"X","d":{}}"#]
        let file = try TemporaryFile(Data(GatewayCapture.encode(payloads.map { Array($0.utf8) })))
        let result = try await Kamii.run(["inspect-capture", file.path, "--compress", "none"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("dispatches=2 sequence_breaks=1"), "\(result.stdout)")
    }

    @Test func aTruncatedFileIsNamedByFrame() async throws {
        let capture = try Data(contentsOf: Self.fixtures.appendingPathComponent("zstd-small.capture"))
        let file = try TemporaryFile(capture.prefix(1_000))
        let result = try await Kamii.run(["inspect-capture", file.path, "--compress", "zstd-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the length prefix says"), "\(result.stderr)")
        #expect(result.stderr.range(of: #"frame \d+ \(at byte \d+\)"#, options: .regularExpression) != nil)
    }

    @Test func theWrongCompressionSaysSo() async throws {
        let path = Self.fixtures.appendingPathComponent("zstd-small.capture").path
        let result = try await Kamii.run(["inspect-capture", path, "--compress", "zlib-stream"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the capture ends inside a payload"), "\(result.stderr)")
        let plain = try await Kamii.run(["inspect-capture", path, "--compress", "none"])
        #expect(plain.status != 0)
        #expect(plain.stderr.contains("frame 0: invalid JSON at byte 0"), "\(plain.stderr)")
    }

    @Test func aMissingFileOrAnUnknownCompressionIsAClearError() async throws {
        let missing = try await Kamii.run(["inspect-capture", "/nonexistent/session.capture", "--compress", "zlib-stream"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("cannot read /nonexistent/session.capture"))
        let unknown = try await Kamii.run(["inspect-capture", "x", "--compress", "brotli"])
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

    /// Runs the executable and waits for it without holding a thread of Swift's cooperative pool:
    /// the pipes are read and the exit awaited on Dispatch's threads (tests run in parallel on a
    /// pool of two threads here; a blocked one stalls every other test).
    static func run(_ arguments: [String], environment: [String: String]? = nil, in directory: URL? = nil) async throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = directory }
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let (outputData, errorData) = await withCheckedContinuation { (continuation: CheckedContinuation<(Data, Data), Never>) in
            DispatchQueue.global().async {
                // Read both pipes before waiting, so a large listing cannot fill a pipe and stall the child.
                nonisolated(unsafe) var errorData = Data()
                let group = DispatchGroup()
                DispatchQueue.global().async(group: group) { errorData = stderr.fileHandleForReading.readDataToEndOfFile() }
                let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
                group.wait()
                process.waitUntilExit()
                continuation.resume(returning: (outputData, errorData))
            }
        }
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

@Suite struct SimulateAndBenchCaptureTests {
    /// Each compression, as Discord compresses and as a load run does (ISA-L writes zlib-stream).
    @Test(arguments: ["none", "zlib-stream", "zstd-stream"], ["discord", "fast"])
    func aSimulatedSessionReadsBackWithUnbrokenSequences(_ compression: String, _ settings: String) async throws {
        let file = try TemporaryFile(Data())
        let written = try await Kamii.run([
            "simulate", "capture", file.path, "--compress", compression, "--compression", settings,
            "--payloads", "1500", "--guilds", "50", "--users", "500", "--seed", "9",
        ])
        #expect(written.status == 0, "\(written.stderr)")
        // Written through its partial file (uncompressed, past one 1 MiB chunk), then put in place.
        #expect(!FileManager.default.fileExists(atPath: file.path + ".partial"))
        let listing = try await Kamii.run(["inspect-capture", file.path, "--compress", compression])
        #expect(listing.status == 0, "\(listing.stderr)")
        let lines = listing.stdout.split(separator: "\n")
        #expect(lines.count == 1_501)
        #expect(lines[0].hasPrefix("frame=0 op=0 s=1 t="))
        #expect(lines[1_499].hasPrefix("frame=1499 op=0 s=1500 t="))
        #expect(lines[1_500].hasPrefix("summary: frames=1500 payloads=1500 dispatches=1500 sequence_breaks=0 "))
    }

    @Test func aCaptureThatCannotBeWrittenSaysWhereAndLeavesNothing() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-no-such-directory-\(UInt64.random(in: 0...UInt64.max))")
        let path = directory.appendingPathComponent("session.capture").path
        let result = try await Kamii.run(["simulate", "capture", path, "--payloads", "10"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("cannot write \(path).partial"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.path))
    }

    @Test func aCaptureThroughASymbolicLinkReplacesTheFileItNames() async throws {
        let target = try TemporaryFile(Data(repeating: 0xAB, count: 200_000))
        let link = target.path + ".link"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target.path)
        defer { try? FileManager.default.removeItem(atPath: link) }
        let result = try await Kamii.run(["simulate", "capture", link, "--compress", "none", "--payloads", "5", "--guilds", "2", "--users", "20"])
        #expect(result.status == 0, "\(result.stderr)")
        // Written whole (not over the old bytes, whose tail would follow), and the link still names it.
        let size = try #require(try FileManager.default.attributesOfItem(atPath: target.path)[.size] as? Int)
        #expect(size < 200_000, "the old file's bytes are gone")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target.path)
        let listing = try await Kamii.run(["inspect-capture", link, "--compress", "none"])
        #expect(listing.status == 0 && listing.stdout.contains("payloads=5 dispatches=5"), "\(listing.stderr)")
    }

    @Test func aCaptureSentToAStreamKeepsTheStreamToItself() async throws {
        let result = try await Kamii.run(["simulate", "capture", "/dev/stdout", "--compress", "none", "--payloads", "20", "--guilds", "5", "--users", "50"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.components(separatedBy: #","op":0,"d":"#).count == 21, "the 20 dispatches, uncompressed")
        #expect(!result.stdout.contains("wrote"))
        #expect(result.stderr.contains("wrote /dev/stdout: 20 dispatches"), "\(result.stderr)")
    }

    @Test func theSameSeedWritesTheSameBytes() async throws {
        let first = try TemporaryFile(Data())
        let second = try TemporaryFile(Data())
        let other = try TemporaryFile(Data())
        for (file, seed) in [(first, "4"), (second, "4"), (other, "5")] {
            let result = try await Kamii.run(["simulate", "capture", file.path, "--payloads", "300", "--seed", seed])
            #expect(result.status == 0)
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: first.path))
        #expect(bytes.count > 300 * 4)
        #expect(try Data(contentsOf: URL(fileURLWithPath: second.path)) == bytes)
        #expect(try Data(contentsOf: URL(fileURLWithPath: other.path)) != bytes)
    }

    @Test func benchCaptureReportsEveryPayload() async throws {
        let path = InspectCaptureTests.fixtures.appendingPathComponent("zlib-split.capture").path
        let result = try await Kamii.run(["bench-capture", path, "--compress", "zlib-stream", "--passes", "3"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 5, "\(result.stdout)")
        #expect(lines.first?.hasPrefix("40 payloads (") == true, "\(result.stdout)")
        // One row per stage: its name, payloads per CPU-second, per wall-second, against inflate
        // alone, and allocation calls per payload.
        let rows = lines.dropFirst(2).map { $0.split(separator: " ") }
        #expect(rows.map { $0.first.map(String.init) } == ["inflate", "envelope", "guild-actors"])
        #expect(rows.allSatisfy { $0.count == 5 && Double($0[1]).map { $0 > 0 } == true })
        #expect(rows.first?[3] == "1.000")
        // Counted in the process: each pass makes a fresh inflater, and guild actors for the
        // capture's guilds on top of that.
        let mallocs = rows.compactMap { $0.last.flatMap { Double($0) } }
        #expect(mallocs.count == 3 && mallocs[0] > 0 && mallocs[2] > mallocs[0], "\(result.stdout)")
    }

    /// Two captures of different worlds, replayed at once as two shards through one set of guild
    /// actors: every payload of both is counted.
    @Test func benchCaptureReplaysSeveralCapturesAsShards() async throws {
        let first = try TemporaryFile(Data())
        let second = try TemporaryFile(Data())
        for (file, seed) in [(first, "4"), (second, "5")] {
            let result = try await Kamii.run(["simulate", "capture", file.path, "--payloads", "300", "--seed", seed])
            #expect(result.status == 0)
        }
        let result = try await Kamii.run(["bench-capture", first.path, second.path, "--compress", "zlib-stream", "--passes", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("600 payloads (") == true, "\(result.stdout)")
        #expect(lines.contains("2 captures replayed at once, one shard each"), "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("guild-actors ") }, "\(result.stdout)")
        let withRedis = try await Kamii.run(["bench-capture", first.path, second.path, "--compress", "zlib-stream", "--redis", "redis://127.0.0.1:1"])
        #expect(withRedis.status != 0)
        #expect(withRedis.stderr.contains("--redis measures one capture at a time"), "\(withRedis.stderr)")
    }

    /// With a Redis: the flush's Redis CPU per million dispatches and the plain-write baseline of the
    /// same run, and none of the keys either wrote left behind.
    @Test(.enabled(if: RedisTestServer.configuration != nil))
    func benchCaptureMeasuresRedisAgainstABaseline() async throws {
        let path = InspectCaptureTests.fixtures.appendingPathComponent("zlib-split.capture").path
        let configuration = try #require(RedisTestServer.configuration)
        let prefix = "kamii-bench-test-\(UInt64.random(in: 0...UInt64.max))"
        let result = try await Kamii.run([
            "bench-capture", path, "--compress", "zlib-stream", "--passes", "2", "--stages", "guild-actors",
            "--redis", "redis://\(configuration.host):\(configuration.port)", "--stats-prefix", prefix,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("redis: ") && $0.contains("CPU-s per million dispatches") }, "\(result.stdout)")
        #expect(lines.contains { $0.hasPrefix("redis baseline, one plain pipelined HSET per dispatch") && $0.hasSuffix("x that") }, "\(result.stdout)")
        let redis = try RedisTestServer.client()
        #expect(try await redis.keys(matching: prefix + "*").isEmpty)
        await redis.close()
    }

    @Test func benchCaptureNamesABadFrame() async throws {
        let path = InspectCaptureTests.fixtures.appendingPathComponent("zstd-small.capture").path
        let result = try await Kamii.run(["bench-capture", path, "--compress", "zlib-stream"])
        #expect(result.status != 0)
        let garbage = try TemporaryFile(Data([3, 0, 0, 0, 0x01, 0x02, 0x03]))
        let corrupt = try await Kamii.run(["bench-capture", garbage.path, "--compress", "none"])
        #expect(corrupt.status != 0)
        #expect(corrupt.stderr.contains("frame 0: invalid JSON"), "\(corrupt.stderr)")
    }

    @Test func benchCaptureRefusesACaptureCutInsideAPayload() async throws {
        // zlib-small's frames, the last one cut to half its bytes (its length prefix says so).
        var frames = try InspectCaptureTests.frames(ofFixture: "zlib-small.capture")
        frames[frames.count - 1] = Array(frames[frames.count - 1].prefix(frames[frames.count - 1].count / 2))
        let cut = try TemporaryFile(Data(GatewayCapture.encode(frames)))
        let result = try await Kamii.run(["bench-capture", cut.path, "--compress", "zlib-stream", "--passes", "1"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("the capture ends inside a payload"), "\(result.stderr)")
    }
}
