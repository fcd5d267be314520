public import DiscordModels
public import KamiiStore

/// A guild's karma rules: which reactions count and how often one member may give karma to the
/// same other member.
public struct KarmaRules: Sendable, Equatable {
    /// Unicode emoji, or custom emoji as `name:id` (or a bare name).
    public var emoji: [String]
    public var cooldownMilliseconds: UInt64

    public init(_ settings: GuildConfig.KarmaSettings) {
        emoji = settings.emoji
        cooldownMilliseconds = UInt64(XPRules.clampedCooldown(seconds: settings.cooldownSeconds)) * 1_000
    }

    public init(emoji: [String], cooldownMilliseconds: UInt64) {
        self.emoji = emoji
        self.cooldownMilliseconds = cooldownMilliseconds
    }

    /// A stable key of an emoji (FNV-1a of its text): what the karma ledger records, so the key
    /// survives restarts. A super reaction's key goes on over a NUL and `burst`: the ledger keeps
    /// it apart from the normal reaction with the same emoji, which the same member may have on the
    /// same message. The ledger keys a reaction by the emoji's own identity
    /// (``emojiKey(of:in:burst:)``); this, on configured text, is how keys were made before.
    public static func emojiKey(_ emoji: String, burst: Bool = false) -> UInt32 {
        var hash = FNV1a()
        for byte in emoji.utf8 { hash.add(byte) }
        return hash.finished(burst: burst)
    }

    /// The key of the reaction's own emoji, whatever the guild's configuration says: a custom
    /// emoji's ID in decimal, a Unicode emoji's text (the same key as ``emojiKey(_:burst:)`` of
    /// that text). A removal is taken back under the key its reaction was given with even after
    /// an admin changed or respelt the emoji list. Nil when the event names no emoji.
    public static func emojiKey(of reaction: ReactionFields, in data: UnsafeRawBufferPointer, burst: Bool) -> UInt32? {
        var hash = FNV1a()
        if let id = reaction.emojiID {
            // The ID's digits, most significant first, without building a string.
            var divisor: UInt64 = 1
            while id / divisor >= 10 { divisor *= 10 }
            while divisor > 0 {
                hash.add(UInt8(ascii: "0") + UInt8(id / divisor % 10))
                divisor /= 10
            }
        } else {
            guard let name = reaction.emojiName, let text = try? name.decode(in: data) else { return nil }
            for byte in text.utf8 { hash.add(byte) }
        }
        return hash.finished(burst: burst)
    }

    private struct FNV1a {
        var value: UInt32 = 2_166_136_261

        mutating func add(_ byte: UInt8) { value = (value ^ UInt32(byte)) &* 16_777_619 }

        mutating func finished(burst: Bool) -> UInt32 {
            if burst { for byte in "\u{0}burst".utf8 { add(byte) } }
            return value
        }
    }
}
