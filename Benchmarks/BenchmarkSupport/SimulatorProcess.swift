import Foundation

/// `kamii simulate` in a process of its own: the benchmark's memory is then only its own, and
/// the simulator's CPU time can be read apart from the benchmark's.
public final class SimulatorProcess {
    let process = Process()
    public let apiURL: String
    public let gatewayURL: String
    public let token: String

    /// The `kamii` built beside this benchmark (`swift build -c release --product kamii`; ops/bench
    /// builds it), or `KAMII_BINARY`.
    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["KAMII_BINARY"] { return URL(fileURLWithPath: path) }
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("kamii")
    }

    public struct NotStarted: Error, CustomStringConvertible {
        public let description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Starts `kamii simulate` with `arguments` and waits for it to announce its URLs and token.
    public init(_ arguments: [String]) throws {
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

    /// CPU time the simulator has used so far, all threads, in seconds (from /proc; the kernel
    /// counts it in clock ticks, 10 ms here).
    public func cpuSeconds() -> Double {
        Self.cpuSeconds(ofProcess: process.processIdentifier)
    }

    /// CPU time process `pid` has used so far, all threads, in seconds.
    public static func cpuSeconds(ofProcess pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = text.lastIndex(of: ")")
        else { return 0 }
        // After the command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    public var processIdentifier: Int32 { process.processIdentifier }

    public func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
