/// One guild's stat changes since they were last taken for a flush.
public struct GuildStatsBatch: Sendable, Equatable {
    /// XP a message earned. The flush applies it only if the member's last XP (in Redis) is at
    /// least a cooldown older, so a message replayed after a restart cannot earn twice.
    public struct Grant: Sendable, Equatable {
        public var user: UInt64
        /// The message's snowflake time, Unix milliseconds.
        public var messageTime: UInt64
        public var xp: Int

        public init(user: UInt64, messageTime: UInt64, xp: Int) {
            self.user = user
            self.messageTime = messageTime
            self.xp = xp
        }
    }

    /// A reaction that may give or take back karma. Redis keeps a ledger of the reactions that gave
    /// karma (``message``, ``giver``, ``emoji`` → receiver), so the flush applies a reaction once
    /// however often it is replayed, and a removal takes back exactly what its reaction gave —
    /// whether or not the guild's actor still remembers it.
    public struct KarmaReaction: Sendable, Equatable {
        public var message: UInt64
        public var giver: UInt64
        /// A stable key of the configured emoji the reaction matched (``KarmaRules/emojiKey(_:)``).
        public var emoji: UInt32
        /// The message's author, who receives the karma, for a reaction added; nil for a removal
        /// (Discord does not say whose message it was; the ledger knows).
        public var receiver: UInt64?

        public init(message: UInt64, giver: UInt64, emoji: UInt32, receiver: UInt64?) {
            self.message = message
            self.giver = giver
            self.emoji = emoji
            self.receiver = receiver
        }
    }

    /// The guild's cooldown when the grants were made (the flush re-checks it).
    public var cooldownMilliseconds: UInt64 = 0
    public var grants: [Grant] = []
    /// Messages counted per member.
    public var messages: [UInt64: Int] = [:]
    /// Reactions that give karma and removals that may take it back, in the order they came.
    public var karmaReactions: [KarmaReaction] = []
    /// Members whose profile (what trust reads from member events) changed: the latest one each.
    public var profiles: [UInt64: MemberProfile] = [:]
    /// How many changes were recorded (what the buffer's bound counts).
    public private(set) var deltaCount = 0

    public init() {}

    public mutating func grant(_ grant: Grant, cooldownMilliseconds: UInt64) {
        grants.append(grant)
        self.cooldownMilliseconds = cooldownMilliseconds
        deltaCount += 1
    }

    public mutating func countMessage(by user: UInt64) {
        messages[user, default: 0] += 1
        deltaCount += 1
    }

    /// Appends `later`'s changes to these (grants keep their order: earlier ones first).
    public mutating func merge(_ later: GuildStatsBatch) {
        guard later.deltaCount > 0 else { return }
        grants += later.grants
        if !later.grants.isEmpty { cooldownMilliseconds = later.cooldownMilliseconds }
        messages.merge(later.messages, uniquingKeysWith: +)
        karmaReactions += later.karmaReactions
        profiles.merge(later.profiles) { _, newer in newer }
        deltaCount += later.deltaCount
    }

    public mutating func setProfile(_ profile: MemberProfile, of user: UInt64) {
        profiles[user] = profile
        deltaCount += 1
    }

    public mutating func record(_ reaction: KarmaReaction) {
        karmaReactions.append(reaction)
        deltaCount += 1
    }
}
