public import Foundation
public import KamiiRedis

/// A redis-server of a test's own (so the test may stop and restart it), on a free loopback port,
/// with its data in a temporary directory and every write appended and fsynced: a restart keeps
/// everything that was acknowledged.
public final class RedisProcess: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private var process: Process?

    /// Starts a redis-server; skips nothing: a missing binary is an error.
    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        port = try Self.freePort()
        try start()
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    public var configuration: RedisConfiguration {
        var configuration = RedisConfiguration(host: "127.0.0.1", port: port)
        configuration.commandTimeout = .seconds(2)
        return configuration
    }

    /// Starts the server (again) on the same port and data; returns when it answers.
    public func start() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [
            "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always",
            "--dir", directory.path, "--protected-mode", "no",
            // ops/test stops any server a crashed test process left behind by this file.
            "--pidfile", directory.appendingPathComponent("redis.pid").path,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        let deadline = Date().addingTimeInterval(10)
        while !Self.answers(port: port) {
            guard Date() < deadline else { throw Failure("redis-server on port \(port) did not start") }
            Thread.sleep(forTimeInterval: 0.02)
        }
    }

    /// Kills the server and waits for it to exit. SIGKILL, because a child of the test process
    /// inherits its blocked SIGTERM; every acknowledged write is already fsynced.
    public func stop() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    private static var binary: String {
        ["/usr/bin/redis-server", "/usr/local/bin/redis-server"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "redis-server"
    }

    private static func answers(port: Int) -> Bool {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { return false }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        let ping = Array("PING\r\n".utf8)
        guard send(socket, ping, ping.count, 0) == ping.count else { return false }
        var reply = [UInt8](repeating: 0, count: 16)
        return recv(socket, &reply, reply.count, 0) > 0 && reply.starts(with: Array("+PONG".utf8))
    }

    private static func freePort() throws -> Int {
        let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure("no socket") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }
}
