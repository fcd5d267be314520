import Synchronization

/// Counts dispatches per event name, for `kamii run`'s reports until the hot path consumes them.
final class DispatchTally: Sendable {
    private struct Counts {
        var byName: [String: Int] = [:]
        var total = 0
        var shardsReady: Set<Int> = []
    }

    private let counts = Mutex(Counts())

    func count(_ name: String, shard: Int) {
        counts.withLock {
            $0.byName[name, default: 0] += 1
            $0.total += 1
            if name == "READY" || name == "RESUMED" { $0.shardsReady.insert(shard) }
        }
    }

    var total: Int { counts.withLock { $0.total } }
    var shardsReady: Int { counts.withLock { $0.shardsReady.count } }

    /// `MESSAGE_CREATE=1200 GUILD_MEMBER_ADD=30 …`, most frequent first.
    var summary: String {
        counts.withLock { counts in
            counts.byName.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        }
    }
}
