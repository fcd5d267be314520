import Synchronization

/// Counts dispatches per event name, for `kamii run`'s reports. Each shard counts in a tally of its
/// own (one uncontended lock, taken once per shard, not a process-wide one per dispatch); reports
/// add them up.
///
/// The names come from the gateway (`t`), and each becomes a log field and a Prometheus series: a
/// name that is not an event name's shape (capitals, digits, `_`; 64 at most) or past
/// ``maxNames`` distinct ones is counted as ``otherName`` — a gateway that sends a new name per
/// event (or escapes that would reach a terminal or a log) grows neither.
final class DispatchTally: Sendable {
    /// Distinct names a shard counts apart; Discord has about eighty.
    static let maxNames = 128
    /// Where names past the limit, or not shaped like an event's, are counted.
    static let otherName = "OTHER"

    /// One shard's counts.
    final class Shard: Sendable {
        fileprivate struct Counts {
            var byName: [String: Int] = [:]
            var total = 0
        }

        fileprivate let counts = Mutex(Counts())

        func count(_ name: String) {
            counts.withLock {
                $0.total += 1
                // A name seen before costs one lookup; only a new one is checked.
                if let index = $0.byName.index(forKey: name) {
                    $0.byName.values[index] += 1
                } else if $0.byName.count < DispatchTally.maxNames - 1, DispatchTally.isEventName(name) {
                    $0.byName[name] = 1
                } else {
                    $0.byName[DispatchTally.otherName, default: 0] += 1
                }
            }
        }
    }

    /// Whether `name` has an event name's shape: `A`–`Z`, `0`–`9` and `_`, 1 to 64 of them.
    static func isEventName(_ name: String) -> Bool {
        let utf8 = name.utf8
        return (1...64).contains(utf8.count) && utf8.allSatisfy { byte in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_")
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

    /// Dispatches by event name, over every shard.
    var byName: [String: Int] {
        all.reduce(into: [String: Int]()) { sum, counts in sum.merge(counts.byName, uniquingKeysWith: +) }
    }

    /// `MESSAGE_CREATE=1200 GUILD_MEMBER_ADD=30 …`, most frequent first.
    var summary: String {
        byName.sorted { ($1.value, $0.key) < ($0.value, $1.key) }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}
