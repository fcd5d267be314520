/// Why a shard stops for good, and the close codes that stop it.
extension ShardStateMachine {
    /// Why a shard stopped for good — what its operator must fix.
    public enum StopReason: Sendable, Equatable, CustomStringConvertible {
        case closed(code: UInt16, reason: String)
        /// The identify gate refused (the session budget is down to its reserve); trying again
        /// makes sense after `retryAfter`, when Discord's budget resets.
        case identifyRefused(reason: String, retryAfter: Duration?)
        /// The shard identified `count` times within `period`: something keeps killing its sessions,
        /// and identifying again would only spend the budget.
        case identifyLoop(count: Int, period: Duration)
        case shutdown

        public var description: String {
            switch self {
            case .closed(let code, let reason): "closed by Discord with \(code): \(reason)"
            case .identifyRefused(let reason, _): "identify refused: \(reason)"
            case .identifyLoop(let count, let period):
                "identified \(count) times within \(period): stopped so the session budget is not spent on a loop; "
                    + "look for what keeps invalidating its sessions (op 9, close codes) in the log"
            case .shutdown: "shut down"
            }
        }
    }

    /// The close codes after which reconnecting cannot help, with what to do about them.
    public static func fatalReason(_ code: UInt16) -> String? {
        switch code {
        case 4004: "authentication failed: the bot token is wrong or was reset — set a valid token"
        case 4010: "invalid shard: the shard ID or count is out of range — check the shard configuration"
        case 4011: "sharding required: this session would hold too many guilds — run more shards"
        case 4012: "invalid API version — use gateway v10"
        case 4013: "invalid intents: an unknown intent bit was sent — check the configured intents"
        case 4014: "disallowed intents: a privileged intent is not enabled for this application — enable it in the developer portal or remove it"
        default: nil
        }
    }
}
