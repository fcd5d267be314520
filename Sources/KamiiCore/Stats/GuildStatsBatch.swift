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
        /// The giver of a clear: the message's reactions (those kept under ``clearedEmoji``, unless
        /// ``everyEmoji``) are all removed at once.
        public static let everyGiver: UInt64 = 0

        public var message: UInt64
        /// Who reacted; ``everyGiver`` for a clear (no Discord user has ID 0).
        public var giver: UInt64
        /// A stable key of the reaction's own emoji (``KarmaRules/emojiKey(of:in:burst:)``).
        public var emoji: UInt32
        /// The message's author, who receives the karma, for a reaction added; nil for a removal
        /// (Discord does not say whose message it was; the ledger knows).
        public var receiver: UInt64?
        /// A clear of every emoji's reactions (MESSAGE_REACTION_REMOVE_ALL): ``emoji`` does not matter.
        public var everyEmoji = false
        /// A clear of one emoji's reactions: every key they may be kept under (normal and super, the
        /// emoji's own and the configured text's), taken back in one pass over the ledger.
        public var clearedEmoji: [UInt32] = []
        /// When the bot received a reaction that gives (Unix ms, its wall clock; 0 for a removal): what
        /// the flush holds against the pair's cooldown, which Redis keeps past the actor.
        public var givenAt: UInt64

        public init(message: UInt64, giver: UInt64, emoji: UInt32, receiver: UInt64?, givenAt: UInt64 = 0) {
            self.message = message
            self.giver = giver
            self.emoji = emoji
            self.receiver = receiver
            self.givenAt = givenAt
        }

        /// Every reaction to `message` removed at once: with `emoji`, that emoji's only.
        public static func cleared(_ message: UInt64, emoji: UInt32?) -> KarmaReaction {
            cleared(message, emojiKeys: emoji.map { [$0] })
        }

        /// Every reaction to `message` removed at once: with `emojiKeys`, those kept under them only.
        public static func cleared(_ message: UInt64, emojiKeys: [UInt32]?) -> KarmaReaction {
            var clear = KarmaReaction(message: message, giver: everyGiver, emoji: emojiKeys?.first ?? 0, receiver: nil)
            clear.everyEmoji = emojiKeys == nil
            clear.clearedEmoji = emojiKeys ?? []
            return clear
        }
    }

    /// A message counted, or the XP one earned.
    public struct Change: Sendable, Equatable {
        public var user: UInt64
        /// The message's snowflake time (Unix milliseconds) of a grant; 0 for a message counted.
        public var messageTime: UInt64
        public var xp: Int32
        public var isGrant: Bool
    }

    /// Which dispatch a message came in: its session (``DiscordGateway/SessionTag``; 0 when
    /// unknown) and `s`, and whether it may have been applied by an earlier process
    /// (``DiscordGateway/ShardDispatch/mayBeApplied``).
    public struct Origin: Sendable, Equatable {
        public var sessionTag: UInt64
        public var sequence: UInt64
        public var mayBeApplied: Bool

        public init(sessionTag: UInt64, sequence: UInt64, mayBeApplied: Bool = false) {
            self.sessionTag = sessionTag
            self.sequence = sequence
            self.mayBeApplied = mayBeApplied
        }

        /// A message whose dispatch is not known (a test, a capture replayed without a session).
        public static let unknown = Origin(sessionTag: 0, sequence: 0)
    }

    /// A message counted from a dispatch that may have been applied by an earlier process: the
    /// flush counts it only if its `s` is past what Redis holds for the guild in that session.
    public struct ReplayedMessage: Sendable, Equatable {
        public var user: UInt64
        public var messageTime: UInt64
        public var sequence: UInt64
    }

    /// The guild's cooldown when the grants were made (the flush re-checks it).
    public var cooldownMilliseconds: UInt64 = 0
    /// Messages counted and grants, in the order they came: one list (the flush groups them by
    /// member), its first four held in place (``Changes``), so most guilds' batches cost no allocation.
    public private(set) var changes = Changes()
    /// The grants, in the order they came (built from ``changes`` on each read: not for a hot path).
    public var grants: [Grant] {
        changes.filter(\.isGrant).map { Grant(user: $0.user, messageTime: $0.messageTime, xp: Int($0.xp)) }
    }
    /// Messages counted per member, replayed ones included (built on each read: not for a hot path).
    public var messages: [UInt64: Int] {
        var counts = changes.reduce(into: [UInt64: Int]()) { counts, change in if !change.isGrant { counts[change.user, default: 0] += 1 } }
        for replayed in replayedMessages { counts[replayed.user, default: 0] += 1 }
        return counts
    }
    /// The session (its tag) and `s` of the last dispatch whose message the batch counts; 0 and 0
    /// when none is known. The flush stores them with the guild: every message of the guild up to
    /// that dispatch is then counted in Redis.
    public private(set) var sessionTag: UInt64 = 0
    public private(set) var lastSequence: UInt64 = 0
    /// Messages counted from dispatches that may have been applied already, all of session
    /// ``replayedSessionTag`` (in arrival order).
    public private(set) var replayedMessages: [ReplayedMessage] = []
    /// The session every one of ``replayedMessages`` came in (0 while there are none). It need not be
    /// the one the batch ends in: a restored session replaced (op 9, a new READY) before the flush —
    /// or while a Redis outage holds the flushes back — leaves replays of the old one behind it,
    /// which the flush still judges against what Redis keeps of the old session.
    public private(set) var replayedSessionTag: UInt64 = 0
    /// Reactions that give karma and removals that may take it back, in the order they came.
    public var karmaReactions: [KarmaReaction] = []
    /// Bots the guild's actor saw (by their messages, member events or reactions) while karma was
    /// on: the flush keeps them in Redis, where no karma reaches them — an actor started later
    /// (evicted, a restart) knows no bot before it sees it, and a reaction to a bot's old message
    /// (a role menu) names only its author.
    public private(set) var karmaBots: [UInt64] = []
    /// The guild's karma pair cooldown when the giving reactions were recorded (the flush judges
    /// each against the pair's last karma, which Redis keeps).
    public var karmaCooldownMilliseconds: UInt64 = 0
    /// Members whose profile (what trust reads from member events) changed: the latest one each.
    public var profiles: [UInt64: MemberProfile] = [:]
    /// How many changes were recorded (what the buffer's bound counts).
    public private(set) var deltaCount = 0
    /// Every change of the batch was recorded at or after this time (Unix ms, the bot's wall clock;
    /// set by ``StatsBuffer/take()``): a privacy deletion remembered earlier does not concern them.
    public var recordedAfter: UInt64 = 0
    /// The earliest message time (Unix ms, the message's snowflake) among the changes that carry
    /// one; `UInt64.max` when none does. A message recorded late — replayed after a restart —
    /// reaches back past ``recordedAfter``.
    public private(set) var earliestMessageTime = UInt64.max

    public init() {}

    public mutating func grant(_ grant: Grant, cooldownMilliseconds: UInt64) {
        append(Change(user: grant.user, messageTime: grant.messageTime, xp: Int32(clamping: grant.xp), isGrant: true))
        self.cooldownMilliseconds = cooldownMilliseconds
    }

    /// Counts a message of `user`, sent at `messageTime` (its snowflake's Unix ms; 0 when unknown).
    public mutating func countMessage(by user: UInt64, at messageTime: UInt64 = 0) {
        append(Change(user: user, messageTime: messageTime, xp: 0, isGrant: false))
    }

    /// Counts a message that came in the dispatch `origin`: one that may have been applied
    /// already waits among ``replayedMessages`` for the flush to judge.
    public mutating func countMessage(by user: UInt64, at messageTime: UInt64, from origin: Origin) {
        guard origin.sessionTag != 0 else { return countMessage(by: user, at: messageTime) }
        sessionTag = origin.sessionTag
        lastSequence = origin.sequence
        guard origin.mayBeApplied else { return countMessage(by: user, at: messageTime) }
        keepReplays(of: origin.sessionTag)
        if messageTime != 0 { earliestMessageTime = min(earliestMessageTime, messageTime) }
        replayedMessages.append(ReplayedMessage(user: user, messageTime: messageTime, sequence: origin.sequence))
        deltaCount += 1
    }

    /// Replays of session `tag` come next. The flush judges a guild's replays against what Redis
    /// keeps of one session, so replays of another session held already count as they are — which
    /// takes two saved sessions restored on the same shard before one flush, not something a
    /// running process does.
    private mutating func keepReplays(of tag: UInt64) {
        if tag != replayedSessionTag, !replayedMessages.isEmpty {
            for replayed in replayedMessages {
                changes.append(Change(user: replayed.user, messageTime: replayed.messageTime, xp: 0, isGrant: false))
            }
            replayedMessages = []
        }
        replayedSessionTag = tag
    }

    private mutating func append(_ change: Change) {
        if change.messageTime != 0 { earliestMessageTime = min(earliestMessageTime, change.messageTime) }
        changes.append(change)
        deltaCount += 1
    }

    /// Appends `later`'s changes to these (grants keep their order: earlier ones first).
    public mutating func merge(_ later: GuildStatsBatch) {
        guard later.deltaCount > 0 else { return }
        // Into nothing: take its storage rather than copy it.
        guard deltaCount > 0 else {
            self = later
            return
        }
        recordedAfter = min(recordedAfter, later.recordedAfter)
        earliestMessageTime = min(earliestMessageTime, later.earliestMessageTime)
        changes.append(contentsOf: later.changes)
        if later.sessionTag != 0 {
            sessionTag = later.sessionTag
            lastSequence = later.lastSequence
        }
        if !later.replayedMessages.isEmpty {
            keepReplays(of: later.replayedSessionTag)
            replayedMessages += later.replayedMessages
        }
        if later.changes.contains(where: \.isGrant) { cooldownMilliseconds = later.cooldownMilliseconds }
        if later.karmaReactions.contains(where: { $0.receiver != nil }) { karmaCooldownMilliseconds = later.karmaCooldownMilliseconds }
        karmaReactions += later.karmaReactions
        karmaBots += later.karmaBots
        profiles.merge(later.profiles) { older, newer in older.followed(by: newer) }
        deltaCount += later.deltaCount
    }

    public mutating func setProfile(_ profile: MemberProfile, of user: UInt64) {
        profiles[user] = profiles[user].map { $0.followed(by: profile) } ?? profile
        deltaCount += 1
    }

    /// Records a bot the guild's actor saw (``karmaBots``).
    public mutating func noteBot(_ user: UInt64) {
        karmaBots.append(user)
        deltaCount += 1
    }

    /// Records a reaction; one that gives karma carries the guild's pair cooldown with it.
    public mutating func record(_ reaction: KarmaReaction, cooldownMilliseconds: UInt64 = 0) {
        if reaction.receiver != nil { karmaCooldownMilliseconds = cooldownMilliseconds }
        karmaReactions.append(reaction)
        deltaCount += 1
    }
}
