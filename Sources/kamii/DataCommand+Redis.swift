import DiscordModels
import KamiiStats

extension DataCommand {
    /// What an export adds from Redis: the karma ledger and pair cooldowns (kept there only), and
    /// the live stats (newer than SQL's by up to a checkpoint interval).
    struct FromRedis {
        let entries: [LedgerEntry]
        let cooldowns: [CooldownEntry]
        let live: [LiveStatsEntry]
    }

    /// The store's export with `karma_ledger`, `karma_cooldowns` and `stats_in_redis`, when a Redis was given.
    struct WithRedis<Document: Encodable>: Encodable {
        let document: Document
        let ledger: FromRedis?

        private enum Key: String, CodingKey {
            case karmaLedger = "karma_ledger", karmaCooldowns = "karma_cooldowns", statsInRedis = "stats_in_redis"
        }

        func encode(to encoder: any Encoder) throws {
            try document.encode(to: encoder)
            guard let ledger else { return }
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(ledger.entries, forKey: .karmaLedger)
            try container.encode(ledger.cooldowns, forKey: .karmaCooldowns)
            try container.encode(ledger.live, forKey: .statsInRedis)
        }
    }

    /// A member's live record as the export writes it: IDs as text, times as Unix milliseconds.
    struct LiveStatsEntry: Encodable {
        let guild, user: String
        let xp, level, messages, xpMessages, karma: Int
        let lastXPAt: UInt64?
        let trust: Int?
        let hasAvatar: Bool?
        let joinedAt: UInt64?
        let isPending, isVerified: Bool?

        init(_ guild: GuildID, _ user: UserID, _ record: MemberRecord) {
            self.guild = String(guild.rawValue)
            self.user = String(user.rawValue)
            (xp, level, messages, xpMessages, karma) = (record.xp, record.level, record.messages, record.xpMessages, record.karma)
            (lastXPAt, trust, hasAvatar, joinedAt) = (record.lastXPAt, record.trust, record.hasAvatar, record.joinedAt)
            (isPending, isVerified) = (record.isPending, record.isVerified)
        }

        private enum CodingKeys: String, CodingKey {
            case guild, user, xp, level, messages, xpMessages = "xp_messages", karma, lastXPAt = "last_xp_at_ms", trust
            case hasAvatar = "has_avatar", joinedAt = "joined_at_ms", isPending = "pending", isVerified = "verified"
        }
    }

    /// A karma pair cooldown as the export writes it: IDs as text, the time as Unix milliseconds.
    struct CooldownEntry: Encodable {
        let guild, giver, receiver: String
        let givenAt: UInt64

        init(_ cooldown: KarmaPairCooldown) {
            guild = String(cooldown.guild.rawValue)
            giver = String(cooldown.giver.rawValue)
            receiver = String(cooldown.receiver.rawValue)
            givenAt = cooldown.givenAt
        }

        private enum CodingKeys: String, CodingKey { case guild, giver, receiver, givenAt = "given_at_ms" }
    }

    /// A karma ledger entry as the export writes it: IDs as text, like the rest of the document.
    struct LedgerEntry: Encodable {
        let guild, message, giver, emojiKey, receiver: String

        init(_ entry: KarmaLedgerEntry) {
            guild = String(entry.guild)
            message = String(entry.message)
            giver = String(entry.giver)
            emojiKey = String(entry.emojiKey)
            receiver = String(entry.receiver)
        }

        private enum CodingKeys: String, CodingKey { case guild, message, giver, emojiKey = "emoji_key", receiver }
    }
}
