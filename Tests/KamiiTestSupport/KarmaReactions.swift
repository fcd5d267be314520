import Foundation
public import KamiiCore

extension GuildStatsBatch {
    /// A message snowflake from now (the karma ledger keeps reactions by their message's week).
    public static func recentMessageID() -> UInt64 {
        let now = UInt64(Date().timeIntervalSince1970 * 1_000)
        return (now - 1_420_070_400_000) << 22 | UInt64.random(in: 0..<(1 << 22))
    }

    /// `count` 👍 reactions to `receiver`'s messages from other members, as a guild actor records
    /// reactions the karma rules allow (each a distinct message and giver).
    public mutating func giveKarma(to receiver: UInt64, count: Int = 1) {
        for _ in 0..<count {
            record(KarmaReaction(
                message: Self.recentMessageID(), giver: UInt64.random(in: 1 << 40...1 << 60), emoji: KarmaRules.emojiKey("👍"), receiver: receiver))
        }
    }
}
