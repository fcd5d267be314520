import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `kamii simulate` as a newcomer runs it: three labelled lines first (API, gateway, token), then a
/// simulated Discord that answers with what the options said.
struct SimulateServeTests {
    @Test func serveAnnouncesItselfAndServesTheOptionsItWasGiven() async throws {
        let process = Process()
        process.executableURL = Kamii.executable
        process.arguments = ["simulate", "--guilds", "30", "--users", "300", "--shards", "4", "--max-concurrency", "2", "--rate", "0"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { process.terminate() }
        // Read on a Dispatch thread: a blocking read must never sit on the cooperative pool.
        let lines: [String] = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var text = ""
                let handle = output.fileHandleForReading
                while text.split(separator: "\n").count < 3 {
                    let chunk = handle.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                continuation.resume(returning: text.split(separator: "\n").prefix(3).map(String.init))
            }
        }
        try #require(lines.count == 3, "\(lines)")
        #expect(lines[0].hasPrefix("api: http://127.0.0.1:") && lines[0].hasSuffix("/api/v10"))
        #expect(lines[1].hasPrefix("gateway: ws://127.0.0.1:"))
        #expect(lines[2].hasPrefix("token: "))
        let api = String(lines[0].dropFirst("api: ".count))
        let token = String(lines[2].dropFirst("token: ".count))

        var request = URLRequest(url: URL(string: api + "/gateway/bot")!)
        request.setValue("Bot \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        let body = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(body["shards"] as? Int == 4)
        #expect((body["session_start_limit"] as? [String: Any])?["max_concurrency"] as? Int == 2)
        #expect(body["url"] as? String == String(lines[1].dropFirst("gateway: ".count)))
    }

    @Test func nonsenseOptionsAreRefusedClearly() async throws {
        let result = try await Kamii.run(["simulate", "--shards", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--shards"))
    }

    @Test(arguments: [
        (["simulate", "--users", "100000000"], "held in memory"),
        (["simulate", "capture", "/dev/null", "--guilds", "2000000"], "held in memory"),
        (["simulate", "capture", "/dev/null", "--payloads", "0"], "--payloads must be positive"),
        (["simulate", "--port", "65534"], "the gateway and the resume URL take the next two"),
        (["simulate", "--rest-port", "70000"], "--rest-port must be 0"),
        (["simulate", "--resume-port", "65536"], "--resume-port must be 0"),
    ])
    func worldsAndPortsOutOfRangeAreRefused(_ arguments: [String], _ message: String) async throws {
        let result = try await Kamii.run(arguments)
        #expect(result.status != 0)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }
}
