extension GuildStatsBatch {
    /// A batch's changes: the first four held in place, the rest in an array. A slot's batch starts
    /// empty after every take, and most guilds' batches hold a message and its grant, twice at most,
    /// between two flushes: in an array each would cost an allocation per guild per flush — measured
    /// at 0.2 allocation calls per dispatch, a fifth of the hot path's at steady state.
    public struct Changes: RandomAccessCollection, Sendable, Equatable {
        private var first = Change.none, second = Change.none, third = Change.none, fourth = Change.none
        /// How many of the four are held (0…4); the array holds the rest, only once they are full.
        private var held = 0
        private var rest: [Change] = []

        public init() {}

        public var startIndex: Int { 0 }
        public var endIndex: Int { held + rest.count }

        public subscript(position: Int) -> Change {
            switch position {
            case 0: first
            case 1: second
            case 2: third
            case 3: fourth
            default: rest[position - 4]
            }
        }

        mutating func append(_ change: Change) {
            switch held {
            case 0: first = change
            case 1: second = change
            case 2: third = change
            case 3: fourth = change
            default:
                // Past four, a guild is busy: room for as many again before the next growth.
                if rest.capacity == 0 { rest.reserveCapacity(4) }
                rest.append(change)
                return
            }
            held += 1
        }

        mutating func append(contentsOf other: Changes) {
            for change in other { append(change) }
        }

        public static func == (lhs: Changes, rhs: Changes) -> Bool { lhs.elementsEqual(rhs) }
    }
}

extension GuildStatsBatch.Change {
    /// A placeholder for the unheld places of ``GuildStatsBatch/Changes`` (never read).
    static let none = GuildStatsBatch.Change(user: 0, messageTime: 0, xp: 0, isGrant: false)
}
