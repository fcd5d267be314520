import Foundation

/// `kamii simulate` in a process of its own, so the benchmark's memory is only the shards'.
final class SimulatorProcess {
    let process = Process()
    let apiURL: String
    let gatewayURL: String
    let token: String

    /// The `kamii` built beside this benchmark (`swift build -c release --product kamii`; ops/bench
    /// builds it), or `KAMII_BINARY`.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["KAMII_BINARY"] { return URL(fileURLWithPath: path) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("kamii")
    }

    struct NotStarted: Error, CustomStringConvertible {
        let description: String
    }

    init(_ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else {
            throw NotStarted(description: "no kamii binary at \(Self.binary.path): run `swift build -c release --product kamii` first")
        }
        process.executableURL = Self.binary
        process.arguments = ["simulate"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The three labelled lines come first; a blocking read is fine here (benchmark setup).
        var text = ""
        let handle = output.fileHandleForReading
        while text.split(separator: "\n").count < 3 {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        let lines = Dictionary(text.split(separator: "\n").compactMap { line -> (String, String)? in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), String(line[line.index(colon, offsetBy: 2)...]))
        }, uniquingKeysWith: { first, _ in first })
        guard let api = lines["api"], let gateway = lines["gateway"], let token = lines["token"] else {
            process.terminate()
            throw NotStarted(description: "kamii simulate did not announce itself: \(text)")
        }
        apiURL = api
        gatewayURL = gateway
        self.token = token
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
