import Dispatch
import Foundation
import Synchronization

/// Where the live view's screens go: standard output, written on a queue of its own. A write can
/// block (a paused `| less`, a full pipe) and must not hold a thread of Swift's cooperative pool,
/// which the hot path runs on; a screen that comes while the last is still being written is
/// skipped. A closed standard output ends the view (and its screens), not the process.
final class LiveOutput: Sendable {
    /// Whether standard output is a terminal (screens are then redrawn in place).
    let isTerminal = isatty(STDOUT_FILENO) == 1
    private let queue = DispatchQueue(label: "kamii.live-output")
    /// A write is under way, or standard output was found closed (then for good).
    private let busy = Atomic(false)
    private let closed = Atomic(false)

    init() {
        // A reader that goes away (`| head`) must give the write an error, not the process a
        // SIGPIPE (SwiftNIO ignores it already; this does not depend on it).
        signal(SIGPIPE, SIG_IGN)
    }

    func show(_ screen: String) {
        guard !closed.load(ordering: .relaxed), busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return }
        queue.async { [self] in
            do {
                try FileHandle.standardOutput.write(contentsOf: Data(screen.utf8))
            } catch {
                closed.store(true, ordering: .relaxed)
            }
            busy.store(false, ordering: .releasing)
        }
    }
}
