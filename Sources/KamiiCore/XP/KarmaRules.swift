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

    /// A stable key of a configured emoji (FNV-1a of its text): what the karma ledger records, so
    /// reordering the guild's emoji list changes nothing, and the key survives restarts. A super
    /// reaction's key goes on over a NUL and `burst`: the ledger keeps it apart from the normal
    /// reaction with the same emoji, which the same member may have on the same message.
    public static func emojiKey(_ emoji: String, burst: Bool = false) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in emoji.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        guard burst else { return hash }
        for byte in "\u{0}burst".utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return hash
    }
}
