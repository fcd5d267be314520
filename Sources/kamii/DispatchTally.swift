import Synchronization

/// Counts dispatches per event name, for `kamii run`'s reports. Each shard counts in a tally of its
/// own (one uncontended lock, taken once per shard, not a process-wide one per dispatch); reports
/// add them up.
final class DispatchTally: Sendable {
    /// One shard's counts.
    final class Shard: Sendable {
        fileprivate struct Counts {
            var byName: [String: Int] = [:]
            var total = 0
            var ready = false
        }

        fileprivate let counts = Mutex(Counts())

        func count(_ name: String) {
            counts.withLock {
                $0.byName[name, default: 0] += 1
                $0.total += 1
                if name == "READY" || name == "RESUMED" { $0.ready = true }
            }
        }
    }

    private let shards = Mutex<[Int: Shard]>([:])

    /// The tally of `shard`, created on first use.
    func shard(_ shard: Int) -> Shard {
        shards.withLock { shards in
            if let tally = shards[shard] { return tally }
            let tally = Shard()
            shards[shard] = tally
            return tally
        }
    }

    private var all: [Shard.Counts] { shards.withLock { Array($0.values) }.map { $0.counts.withLock { $0 } } }

    var total: Int { all.reduce(0) { $0 + $1.total } }
    var shardsReady: Int { all.filter(\.ready).count }

    /// Dispatches by event name, over every shard.
    var byName: [String: Int] {
        all.reduce(into: [String: Int]()) { sum, counts in sum.merge(counts.byName, uniquingKeysWith: +) }
    }

    /// `MESSAGE_CREATE=1200 GUILD_MEMBER_ADD=30 …`, most frequent first.
    var summary: String {
        byName.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
