import DiscordModels
import Foundation
import Synchronization

/// The interactions the gateway delivered, so their callbacks and follow-ups can be checked as
/// Discord checks them: one initial response within 3 seconds, follow-ups with the token for
/// 15 minutes after.
final class InteractionRegistry: Sendable {
    struct Interaction: Sendable {
        let token: String
        let guild: GuildID
        let channel: ChannelID
        /// For a button click, the message the button is on; nil for a command.
        let componentMessage: UInt64?
        let deliveredAt: Double
        var acknowledged = false
        /// The messages sent with the token, as JSON, for edits: the original response under 0
        /// (once the response made one), follow-ups under their IDs.
        var messages: [UInt64: Data] = [:]
    }

    /// The key of the original response in ``Interaction/messages``.
    static let original: UInt64 = 0

    enum CallbackError: Error, Equatable {
        case unknown
        case alreadyAcknowledged
    }

    /// Seconds an interaction may wait for its initial response (Discord: 3).
    let responseWindow: Double
    /// Seconds its token works for follow-ups (Discord: 15 minutes).
    let tokenLifetime: Double
    private let state = Mutex<(byID: [UInt64: Interaction], byToken: [String: UInt64], order: [(id: UInt64, at: Double)])>(([:], [:], []))

    init(responseWindow: Double = 3, tokenLifetime: Double = 900) {
        self.responseWindow = responseWindow
        self.tokenLifetime = tokenLifetime
    }

    /// Discord's interaction type: 3 for a component (a button click), 2 for a command.
    static func type(of interaction: Interaction) -> Int { interaction.componentMessage == nil ? 2 : 3 }

    func register(id: UInt64, token: String, guild: GuildID, channel: ChannelID, componentMessage: UInt64? = nil, at now: Double) {
        state.withLock { state in
            // Forget the expired first: the registry stays as small as 15 minutes of interactions.
            let expired = state.order.prefix { $0.at < now - tokenLifetime }
            for entry in expired {
                if let token = state.byID.removeValue(forKey: entry.id)?.token { state.byToken[token] = nil }
            }
            state.order.removeFirst(expired.count)
            state.byID[id] = Interaction(token: token, guild: guild, channel: channel, componentMessage: componentMessage, deliveredAt: now)
            state.byToken[token] = id
            state.order.append((id, now))
        }
    }

    /// Accepts the initial response to interaction `id` with `token`; returns the interaction.
    @discardableResult
    func acknowledge(id: UInt64, token: String, at now: Double) throws(CallbackError) -> Interaction {
        let result: Result<Interaction, CallbackError> = state.withLock { state in
            guard var interaction = state.byID[id], interaction.token == token, now <= interaction.deliveredAt + responseWindow
            else { return .failure(.unknown) }
            guard !interaction.acknowledged else { return .failure(.alreadyAcknowledged) }
            interaction.acknowledged = true
            state.byID[id] = interaction
            return .success(interaction)
        }
        return try result.get()
    }

    /// The interaction `token` belongs to, if it was acknowledged and is still within its
    /// lifetime; when `message` is given, it is recorded (a new follow-up) or must be one sent
    /// before (an edit or delete).
    func followup(token: String, message: UInt64?, creating: Bool, at now: Double) -> Interaction? {
        state.withLock { state in
            guard let id = state.byToken[token], var interaction = state.byID[id], interaction.acknowledged,
                  now <= interaction.deliveredAt + tokenLifetime
            else { return nil }
            guard let message else { return interaction }
            if creating {
                interaction.messages[message] = Data()
                state.byID[id] = interaction
                return interaction
            }
            return interaction.messages[message] != nil ? interaction : nil
        }
    }

    /// The message `message` (``original``, or a follow-up's ID) of the interaction `token` belongs to, as JSON.
    func message(_ message: UInt64, token: String) -> Data? {
        state.withLock { state in state.byToken[token].flatMap { state.byID[$0]?.messages[message] } }
    }

    /// Keeps (or, with nil, forgets) the message `message` of the interaction `token` belongs to.
    func keep(_ json: Data?, as message: UInt64, token: String) {
        state.withLock { state in
            guard let id = state.byToken[token] else { return }
            state.byID[id]?.messages[message] = json
        }
    }
}
