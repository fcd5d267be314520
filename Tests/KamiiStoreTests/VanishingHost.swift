#if os(Linux)
import Foundation

/// A host a test can make vanish, in front of a TCP server on this machine: a network namespace
/// joined to this one by a veth pair, in which a forwarder (`Helpers/netns_forwarder.py`) takes
/// connections and passes them on to the server. ``vanish()`` sets the namespace's end of the link
/// down: what a client sends goes nowhere and nothing closes its connection — as when a machine is
/// lost, or a failover moves an address away. Needs root (`ip netns`, from iproute2).
final class VanishingHost: Sendable {
    /// The address and port to connect to.
    let address: String
    let port: Int
    private let namespace: String
    private let outerLink: String
    private let innerLink: String
    private let forwarder: Process
    private let forwarderInput: Pipe

    struct SetUpFailed: Error, CustomStringConvertible {
        let description: String
    }

    /// This machine cannot make network namespaces (not root, or a container without
    /// `CAP_SYS_ADMIN` and `CAP_NET_ADMIN`, or no iproute2).
    struct Unavailable: Error, CustomStringConvertible {
        let reason: String
        var description: String { "no network namespaces here (root with CAP_SYS_ADMIN and CAP_NET_ADMIN, and iproute2, are needed): \(reason)" }
    }

    private init(address: String, port: Int, namespace: String, outerLink: String, innerLink: String, forwarder: Process, forwarderInput: Pipe) {
        self.address = address
        self.port = port
        self.namespace = namespace
        self.outerLink = outerLink
        self.innerLink = innerLink
        self.forwarder = forwarder
        self.forwarderInput = forwarderInput
    }

    /// A host forwarding to `targetHost`:`targetPort`.
    static func make(forwardingTo targetHost: String, port targetPort: Int) async throws -> VanishingHost {
        let id = String(UInt32.random(in: 0..<0xFFFFF), radix: 16)
        // Named with this process's pid: `ops/test` removes those whose process is gone (a test
        // that crashed could not).
        let namespace = "kamii-vh-\(getpid())-\(id)", outerLink = "kvh\(id)o", innerLink = "kvh\(id)i"
        // A /30 of 10.213.0.0/16 unlikely to be another run's.
        let third = Int.random(in: 0...255), fourth = 4 * Int.random(in: 0...63)
        let outerAddress = "10.213.\(third).\(fourth + 1)", innerAddress = "10.213.\(third).\(fourth + 2)"
        do {
            try await ip("netns", "add", namespace)
        } catch {
            throw Unavailable(reason: "\(error)")
        }
        do {
            try await ip("link", "add", outerLink, "type", "veth", "peer", "name", innerLink)
            try await ip("link", "set", innerLink, "netns", namespace)
            try await ip("addr", "add", "\(outerAddress)/30", "dev", outerLink)
            try await ip("link", "set", outerLink, "up")
            try await ip("-n", namespace, "addr", "add", "\(innerAddress)/30", "dev", innerLink)
            try await ip("-n", namespace, "link", "set", innerLink, "up")
        } catch {
            await removeLinks(namespace: namespace, outerLink: outerLink)
            throw SetUpFailed(description: "cannot make a host to vanish (root and iproute2 are needed): \(error)")
        }
        let forwarder = Process()
        forwarder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Helpers/netns_forwarder.py").path
        forwarder.arguments = ["python3", script, namespace, innerAddress, targetHost, String(targetPort)]
        let input = Pipe(), output = Pipe()
        forwarder.standardInput = input
        forwarder.standardOutput = output
        do {
            try forwarder.run()
            let line = await readLine(output)
            guard let port = Int(line) else { throw SetUpFailed(description: "the forwarder printed no port (\(line.debugDescription))") }
            return VanishingHost(
                address: innerAddress, port: port, namespace: namespace, outerLink: outerLink, innerLink: innerLink,
                forwarder: forwarder, forwarderInput: input
            )
        } catch {
            if forwarder.isRunning { forwarder.terminate() }
            await removeLinks(namespace: namespace, outerLink: outerLink)
            throw error
        }
    }

    /// The host's link goes down: packets to it are dropped, unanswered.
    func vanish() async throws { try await Self.ip("-n", namespace, "link", "set", innerLink, "down") }

    /// The host's link is back up, its forwarder still listening.
    func reappear() async throws { try await Self.ip("-n", namespace, "link", "set", innerLink, "up") }

    /// Stops the forwarder and removes the namespace and the link.
    func remove() async {
        try? forwarderInput.fileHandleForWriting.close()
        if forwarder.isRunning { forwarder.terminate() }
        await Self.removeLinks(namespace: namespace, outerLink: outerLink)
    }

    private static func removeLinks(namespace: String, outerLink: String) async {
        // Deleting the namespace deletes its end of the pair, and with it this one.
        try? await ip("netns", "del", namespace)
        try? await ip("link", "del", outerLink)
    }

    /// Runs `ip` with `arguments`, on a Dispatch thread (it blocks), throwing what it printed when it fails.
    private static func ip(_ arguments: String...) async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip"] + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let status = await withCheckedContinuation { (done: CheckedContinuation<Int32, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume(returning: process.terminationStatus)
            }
        }
        guard status == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw SetUpFailed(description: "ip \(arguments.joined(separator: " ")): \(message.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }

    /// The first line `pipe` carries (blocking reads on a Dispatch thread).
    private static func readLine(_ pipe: Pipe) async -> String {
        await withCheckedContinuation { (done: CheckedContinuation<String, Never>) in
            DispatchQueue.global().async {
                var bytes: [UInt8] = []
                while true {
                    let chunk = pipe.fileHandleForReading.readData(ofLength: 1)
                    guard let byte = chunk.first, byte != UInt8(ascii: "\n") else { break }
                    bytes.append(byte)
                }
                done.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
    }
}
#endif
