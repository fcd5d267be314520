/// The close codes a Discord gateway closes a connection with.
public enum GatewayCloseCode: UInt16, Sendable, CaseIterable {
    case unknownError = 4000
    case unknownOpcode = 4001
    case decodeError = 4002
    case notAuthenticated = 4003
    case authenticationFailed = 4004
    case alreadyAuthenticated = 4005
    case invalidSequence = 4007
    case rateLimited = 4008
    case sessionTimedOut = 4009
    case invalidShard = 4010
    case shardingRequired = 4011
    case invalidAPIVersion = 4012
    case invalidIntents = 4013
    case disallowedIntents = 4014

    /// Codes after which reconnecting cannot help: the configuration must change.
    public var isFatal: Bool {
        switch self {
        case .authenticationFailed, .invalidShard, .shardingRequired, .invalidAPIVersion, .invalidIntents, .disallowedIntents: true
        default: false
        }
    }

    /// Fatal codes that refuse what every shard of the bot sends alike — the token, the API
    /// version, the intents — so every other shard would be refused in turn, each identify taken
    /// off the session budget. (An invalid shard, or one that must be split, is that shard's own.)
    public var refusesEveryShard: Bool {
        switch self {
        case .authenticationFailed, .invalidAPIVersion, .invalidIntents, .disallowedIntents: true
        default: false
        }
    }

    /// Discord's reason text for the code.
    public var reason: String {
        switch self {
        case .unknownError: "Unknown error."
        case .unknownOpcode: "Unknown opcode."
        case .decodeError: "Error while decoding payload."
        case .notAuthenticated: "Not authenticated."
        case .authenticationFailed: "Authentication failed."
        case .alreadyAuthenticated: "Already authenticated."
        case .invalidSequence: "Invalid seq."
        case .rateLimited: "Rate limited."
        case .sessionTimedOut: "Session timed out."
        case .invalidShard: "Invalid shard."
        case .shardingRequired: "Sharding required."
        case .invalidAPIVersion: "Invalid API version."
        case .invalidIntents: "Invalid intent(s)."
        case .disallowedIntents: "Disallowed intent(s)."
        }
    }
}
