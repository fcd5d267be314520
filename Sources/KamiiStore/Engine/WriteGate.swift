import Foundation
import Synchronization

/// Lets one writer at a time through, in arrival order, without blocking a thread.
///
/// SQLite allows one writer per database file; funnelling this process's writers through one gate
/// per file means they queue here instead of polling SQLite's busy handler. Other processes
/// writing the same file are still waited for through `busy_timeout`.
actor WriteGate {
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// The gate of a database file, shared by every store in this process that opens it.
    static func forFile(_ path: String) -> WriteGate {
        let key = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        return gates.withLock { gates in
            if let gate = gates[key] { return gate }
            let gate = WriteGate()
            gates[key] = gate
            return gate
        }
    }

    private static let gates = Mutex<[String: WriteGate]>([:])

    func enter() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func leave() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
