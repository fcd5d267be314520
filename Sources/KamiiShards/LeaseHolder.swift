import Foundation
import Synchronization

/// Who holds a shard's lease, as written in its Redis key: `<host>|<boot id>/<pid namespace>|<pid>|<random>`.
/// The random part tells two holders apart (two keepers of one process, a process restarted with
/// its predecessor's pid); the rest lets a process restarted after a crash on the same machine see
/// that the holder is gone, and take its leases at once instead of waiting for them to expire.
/// The host name is for people reading the key: machines are told apart by the kernel's boot id
/// (host names repeat across cloned machines; the first PID namespace is the same on every one).
struct LeaseHolder: Sendable, Equatable, CustomStringConvertible {
    var host: String
    /// The boot (`/proc/sys/kernel/random/boot_id`) and PID namespace (`/proc/self/ns/pid`): a pid
    /// is only compared within one — containers on one kernel share the boot, each has its own
    /// pid 1. Empty where either is unknown, and then no holder is ever judged gone.
    var pidNamespace: String
    var pid: Int32
    var token: String

    var description: String { "\(host)|\(pidNamespace)|\(pid)|\(token)" }

    init(host: String, pidNamespace: String, pid: Int32, token: String) {
        self.host = host
        self.pidNamespace = pidNamespace
        self.pid = pid
        self.token = token
    }

    init?(_ text: String) {
        let parts = text.split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, let pid = Int32(parts[2]) else { return nil }
        self.init(host: String(parts[0]), pidNamespace: String(parts[1]), pid: pid, token: String(parts[3]))
    }

    /// This process, with a fresh random token.
    static func current() -> LeaseHolder {
        LeaseHolder(
            host: ThisMachine.hostName.replacingOccurrences(of: "|", with: "_"), pidNamespace: pidNamespace, pid: getpid(),
            token: String(UInt64.random(in: 0...UInt64.max), radix: 16))
    }

    /// Whether `other` is certainly gone, judged from `self`'s machine: on the same host and in the
    /// same PID namespace, a holder whose process no longer exists — or one of this very process
    /// whose keeper has released its leases or is gone (a process restarted with the pid its
    /// crashed predecessor had is the same case). Anything else (another machine, an unknown
    /// namespace, a process not yet reaped) may be alive.
    func seesGone(_ other: LeaseHolder) -> Bool {
        guard other != self, !pidNamespace.isEmpty, other.host == host, other.pidNamespace == pidNamespace else { return false }
        if other.pid == pid { return !Self.renewing.withLock { $0.contains(other.token) } }
        return kill(other.pid, 0) != 0 && errno == ESRCH
    }

    /// Tokens of this process's keepers from their start until they release their leases (or are
    /// gone): only those are alive among holders with this process's pid.
    static let renewing = Mutex<Set<String>>([])

    private static var pidNamespace: String {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines), !boot.isEmpty,
            let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")
        else { return "" }
        return "\(boot)/\(namespace)".replacingOccurrences(of: "|", with: "_")
    }
}

/// The machine a process runs on, as it names itself.
public enum ThisMachine {
    /// This machine's name (no lookup: `gethostname`), or "localhost".
    public static var hostName: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let text = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "localhost" : text
    }
}
