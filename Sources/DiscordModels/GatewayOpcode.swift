/// A gateway payload's `op`.
///
/// Discord may add opcodes; an unknown one is kept rather than rejected.
public enum GatewayOpcode: Sendable, Hashable, CustomStringConvertible {
    case dispatch
    case heartbeat
    case identify
    case presenceUpdate
    case voiceStateUpdate
    case resume
    case reconnect
    case requestGuildMembers
    case invalidSession
    case hello
    case heartbeatAck
    case requestSoundboardSounds
    case unknown(Int)

    public init(rawValue: Int) {
        self = switch rawValue {
        case 0: .dispatch
        case 1: .heartbeat
        case 2: .identify
        case 3: .presenceUpdate
        case 4: .voiceStateUpdate
        case 6: .resume
        case 7: .reconnect
        case 8: .requestGuildMembers
        case 9: .invalidSession
        case 10: .hello
        case 11: .heartbeatAck
        case 31: .requestSoundboardSounds
        default: .unknown(rawValue)
        }
    }

    public var rawValue: Int {
        switch self {
        case .dispatch: 0
        case .heartbeat: 1
        case .identify: 2
        case .presenceUpdate: 3
        case .voiceStateUpdate: 4
        case .resume: 6
        case .reconnect: 7
        case .requestGuildMembers: 8
        case .invalidSession: 9
        case .hello: 10
        case .heartbeatAck: 11
        case .requestSoundboardSounds: 31
        case .unknown(let value): value
        }
    }

    /// Discord's name for the opcode, as in its documentation.
    public var description: String {
        switch self {
        case .dispatch: "Dispatch"
        case .heartbeat: "Heartbeat"
        case .identify: "Identify"
        case .presenceUpdate: "Presence Update"
        case .voiceStateUpdate: "Voice State Update"
        case .resume: "Resume"
        case .reconnect: "Reconnect"
        case .requestGuildMembers: "Request Guild Members"
        case .invalidSession: "Invalid Session"
        case .hello: "Hello"
        case .heartbeatAck: "Heartbeat ACK"
        case .requestSoundboardSounds: "Request Soundboard Sounds"
        case .unknown(let value): "Unknown(\(value))"
        }
    }
}
