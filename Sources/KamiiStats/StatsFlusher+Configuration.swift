extension StatsFlusher {
    /// How a ``StatsFlusher`` flushes: how often, under which keys, how many guilds per script call,
    /// and how it treats karma and privacy deletions.
    public struct Configuration: Sendable {
        public var interval: Duration
        public var keys: StatsKeys
        /// Guilds per script call. On Redis Cluster, 1 (a script's keys must share a slot); on a
        /// single Redis, more guilds per call save Redis the per-call cost.
        public var guildsPerCall: Int
        /// Script arguments per round trip, each member's changes counted as one (they travel in
        /// their guild's one argument): a backlog after an outage is sent in parts (≈ 100,000
        /// arguments is ≈ 0.2 s of Redis's time), none long enough to run into the command timeout.
        public var maxArgumentsPerRoundTrip: Int
        /// How long Redis remembers which reactions gave karma, counted from the end of their
        /// message's week (from when the karma was given, for older messages): removing a reaction
        /// within it takes its karma back.
        public var karmaMemory: Duration
        public static let defaultKarmaMemory = Duration.seconds(30 * 86_400)
        /// Whether flushes name the members they change in the ``StatsKeys/changeJournal`` for a
        /// ``Checkpointer``. Off when nothing checkpoints this Redis (no SQL store): the journal
        /// would only grow.
        public var writesChangeJournal: Bool
        /// How far the bot's clock may run ahead of Redis's: a member's changes recorded up to this
        /// long after a privacy deletion Redis remembers (``StatsKeys/deletions(in:)``) are dropped
        /// with the ones recorded before it, which must not bring the member back.
        public var deletionClockAllowance: Duration
        /// After a guild could not be loaded from SQL, how long no load is tried (guilds that need
        /// one wait, set aside): doubled after each failure in a row, up to ``hydrationBackoffLimit``.
        /// A database that hangs instead of refusing holds a flush for one failure per quiet period,
        /// not one per guild per flush.
        public var hydrationBackoff: Duration
        public var hydrationBackoffLimit: Duration
        /// Rows a guild's load reads from SQL, and writes to Redis in one round trip, at a time: a
        /// guild of millions is never held whole.
        public var loadPageRows = 10_000
        /// Guilds loaded from SQL at once, at most (and no more than the hydrator's
        /// ``GuildHydrator/loadsAtOnce``: the store's connections). After Redis lost its data every
        /// active guild needs a load (measured ≈ 2 ms each on SQLite, ≈ 4.5 ms on PostgreSQL, one
        /// after another: minutes of stopped flushes for a large bot), most of it waiting on round
        /// trips.
        public var hydrationConcurrency = 16

        public init(
            interval: Duration = .milliseconds(250), keys: StatsKeys = StatsKeys(), guildsPerCall: Int = 100,
            maxArgumentsPerRoundTrip: Int = 100_000, karmaMemory: Duration = Configuration.defaultKarmaMemory,
            writesChangeJournal: Bool = true, deletionClockAllowance: Duration = .seconds(5),
            hydrationBackoff: Duration = .seconds(2), hydrationBackoffLimit: Duration = .seconds(60)
        ) {
            self.interval = interval
            self.keys = keys
            self.guildsPerCall = guildsPerCall
            self.maxArgumentsPerRoundTrip = maxArgumentsPerRoundTrip
            self.karmaMemory = karmaMemory
            self.writesChangeJournal = writesChangeJournal
            self.deletionClockAllowance = deletionClockAllowance
            self.hydrationBackoff = hydrationBackoff
            self.hydrationBackoffLimit = hydrationBackoffLimit
        }
    }
}
