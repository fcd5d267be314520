import DiscordModels
import KamiiCore

extension PendingFlush {
    /// What the replies of one send of a flush say (``PendingFlush/settle(_:)``).
    struct Outcome {
        var applied = 0
        var grants = 0
        var deltas = 0
        var levelUps: [LevelUp] = []
        /// Returning members' joins the flush kept in Redis (``StatsKeys/waitingJoins(in:)``).
        var joins: [MemberJoin] = []
        /// The guilds applied and how many changes each carried.
        var guilds: [(guild: UInt64, changes: Int)] = []
        /// Guilds with XP or a join in their batch that an earlier send of this flush had applied
        /// (its reply lost): their level-ups and joins, if any, were not reported.
        var appliedEarlier: [UInt64] = []
        /// Guilds Redis does not have (never loaded, or lost): rehydrate, then send again.
        var unloaded: [UInt64] = []
        /// Guilds whose keys are not what Kamii writes, and Redis's error: their batches are done
        /// with (maybe in part) and not sent again.
        var broken: [(guild: UInt64, error: String, changes: Int)] = []
        var scriptMissing = false
        var error: String?
        /// The records went in the same transaction as the changes they vouch for.
        var recordsWritten = false
        /// Whether the thread maps' changes are in Redis (or were given up on: ``threadErrors``).
        var threadsWritten = false
        /// Redis's errors for thread map keys that are not what Kamii writes (given up on).
        var threadErrors: [String] = []
        /// The change journal entry Redis refused (field and pairs): the flusher marks its members in
        /// the dirty sets instead, since the guilds it names may be applied and leave the flush.
        var unjournaled: (field: String, entry: [UInt8])?
    }
}
