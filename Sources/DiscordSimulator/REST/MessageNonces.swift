import DiscordModels
import Synchronization

/// Messages created with `enforce_nonce`, by channel and nonce, for a few minutes: Discord answers a
/// second create with the same nonce (by the same author) with the message the first one made,
/// and creates nothing — so a client may resend a create whose answer it never got.
final class MessageNonces: Sendable {
    /// How long a nonce is remembered (Discord: "the past few minutes").
    static let lifetime: Double = 300

    private struct Entry {
        let message: String
        let at: Double
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The message created earlier in `channel` with `nonce`, encoded; nil when there is none.
    func message(in channel: ChannelID, nonce: String, now: Double) -> String? {
        entries.withLock { entries in
            guard let entry = entries[Self.key(channel, nonce)], now - entry.at < Self.lifetime else { return nil }
            return entry.message
        }
    }

    func remember(_ message: String, in channel: ChannelID, nonce: String, now: Double) {
        entries.withLock { entries in
            if entries.count >= 10_000 { entries = entries.filter { now - $0.value.at < Self.lifetime } }
            entries[Self.key(channel, nonce)] = Entry(message: message, at: now)
        }
    }

    private static func key(_ channel: ChannelID, _ nonce: String) -> String { "\(channel.rawValue)/\(nonce)" }
}
