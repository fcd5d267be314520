extension Checkpointer {
    /// What one checkpoint (or every checkpoint so far: ``Checkpointer/totals``) did.
    public struct Report: Sendable, Equatable {
        public var guilds = 0
        public var members = 0
        public var failures = 0
        /// Another process's checkpointer was at it: the marks are left to it.
        public var leftToAnother = false
        /// Rows SQL did not take: it held a later read of them (not counted in ``members``).
        public var rowsNotWritten = 0
        /// Members whose id no Discord object has (0, or past 2^63 − 1, which SQL cannot hold): a
        /// damaged journal entry, a hostile payload. Their records stay in Redis, out of SQL.
        public var unstorableMembers = 0
        /// Records Kamii cannot read (damaged, or written by something else): kept marked and out of
        /// SQL until fixed or purged, counted at each checkpoint that meets them.
        public var unreadableRecords = 0
    }
}
