public import DiscordModels
import Foundation
import Synchronization

/// The results a bot must reach from the traffic a simulator actually sent: per (guild, user) the
/// messages posted, the messages that earn XP under the cooldown, the XP itself and the reactions
/// given and received. Updated as each dispatch is numbered, so replays after a resume do not
/// count twice and events a client could never have seen do not count at all.
///
/// The XP rule is Kamii's (docs/XP.md): a message earns XP when its author is a human, its channel
/// (or the thread's parent channel) is not a no-XP channel, they hold no no-XP role, and at least `cooldown` passed, by
/// message-ID time, since the author's last XP in that guild; the amount is
/// `min + splitmix64(message_id) % (max - min + 1)` times the guild's, the channel's and the
/// author's highest role's multipliers, so a message replayed after a crash earns the same XP and
/// the simulator can know every user's total to the unit. No-XP roles are judged, and role
/// multipliers chosen, by the roles the message's member object lists (they change as moderators
/// give and take roles).
public final class GroundTruth: Sendable {
    /// The XP settings the truth is computed under (Kamii's defaults are MEE6's).
    public struct Rules: Sendable, Equatable {
        public var minimumXP: Int
        public var maximumXP: Int
        public var cooldownMilliseconds: UInt64

        /// Reactions with these emoji give karma (Kamii's karma rule with no pair cooldown: the
        /// simulator cannot know when the bot receives a reaction, and that is what the cooldown
        /// counts). A Unicode emoji counts in any skin tone and presentation, and a super reaction
        /// like a normal one: each is a reaction of its own. A custom emoji is named `name:id`.
        public var karmaEmoji: Set<String>

        /// Channels where messages earn no XP; a thread follows its parent channel.
        public var noXPChannels: Set<ChannelID>
        /// XP multipliers by channel: a thread's own, or else its parent channel's.
        public var channelMultipliers: [ChannelID: Double]
        /// Roles whose holders' messages earn no XP (a guild's ID is its `@everyone`, which every
        /// member holds).
        public var noXPRoles: Set<RoleID>
        /// XP multipliers by role: the highest of the author's roles' (and `@everyone`'s) counts.
        public var roleMultipliers: [RoleID: Double]
        /// The guild-wide multiplier. The award is the roll times the guild's, the channel's and
        /// the role's multipliers, rounded to the nearest whole XP.
        public var multiplier: Double

        public init(
            minimumXP: Int = 15, maximumXP: Int = 25, cooldownMilliseconds: UInt64 = 60_000, karmaEmoji: Set<String> = ["👍", "kamii_upvote:1186000000000000001"],
            noXPChannels: Set<ChannelID> = [], channelMultipliers: [ChannelID: Double] = [:],
            noXPRoles: Set<RoleID> = [], roleMultipliers: [RoleID: Double] = [:], multiplier: Double = 1
        ) {
            precondition(minimumXP >= 0 && maximumXP >= minimumXP, "XP range must be non-empty")
            precondition(
                (Array(channelMultipliers.values) + Array(roleMultipliers.values) + [multiplier]).allSatisfy { $0 >= 0 && $0.isFinite },
                "multipliers must be finite and not negative")
            self.minimumXP = minimumXP
            self.maximumXP = maximumXP
            self.cooldownMilliseconds = cooldownMilliseconds
            self.karmaEmoji = karmaEmoji
            self.noXPChannels = noXPChannels
            self.channelMultipliers = channelMultipliers
            self.noXPRoles = noXPRoles
            self.roleMultipliers = roleMultipliers
            self.multiplier = multiplier
        }

        /// Whether a reaction with `emoji` gives karma: listed, or listed in another skin tone or
        /// presentation (skin-tone modifiers and variation selectors left out on both sides).
        func givesKarma(_ emoji: String) -> Bool {
            if karmaEmoji.contains(emoji) { return true }
            func base(_ text: String) -> [Unicode.Scalar] {
                text.unicodeScalars.filter { !(0x1F3FB...0x1F3FF).contains($0.value) && $0.value != 0xFE0E && $0.value != 0xFE0F }
            }
            let own = base(emoji)
            return !own.isEmpty && karmaEmoji.contains { base($0) == own }
        }

        /// Whether the rules look at the author's roles (a message's fact must then list them).
        public var readsRoles: Bool { !noXPRoles.isEmpty || !roleMultipliers.isEmpty }

        /// Whether a message in `channel` (a thread in `parent`) of `guild`, by an author holding
        /// `roles`, can earn XP at all.
        func earnsXP(in channel: ChannelID, parent: ChannelID?, guild: GuildID, roles: [RoleID]) -> Bool {
            if noXPChannels.contains(channel) || (parent.map(noXPChannels.contains) ?? false) { return false }
            return noXPRoles.isEmpty || (!noXPRoles.contains(RoleID(guild.rawValue)) && !roles.contains(where: noXPRoles.contains))
        }

        /// The XP a message earns, from its roll: times the guild's multiplier, the channel's (a
        /// thread's own, or else its parent channel's) and the highest of the author's roles'
        /// (`@everyone` counted), in that order, rounded to the nearest whole XP.
        func award(roll: Int, in channel: ChannelID, parent: ChannelID?, guild: GuildID, roles: [RoleID]) -> Int {
            var factors = [multiplier, channelMultipliers[channel] ?? parent.flatMap { channelMultipliers[$0] } ?? 1]
            if !roleMultipliers.isEmpty {
                var highest = roleMultipliers[RoleID(guild.rawValue)]
                for role in roles {
                    if let candidate = roleMultipliers[role], candidate > highest ?? -1 { highest = candidate }
                }
                if let highest { factors.append(highest) }
            }
            return factors.allSatisfy({ $0 == 1 }) ? roll : Self.exactlyScaled(roll, by: factors)
        }

        /// `roll` times `factors` in decimal arithmetic — each multiplier to the hundredth (as Kamii
        /// counts them), as a decimal (4.1, not binary's 4.0999999999999996) — rounded to the nearest
        /// whole XP, halves up: worked out apart from Kamii's own floating-point rule, which must
        /// agree with it.
        static func exactlyScaled(_ roll: Int, by factors: [Double]) -> Int {
            var product = Decimal(roll)
            for factor in factors {
                let hundredths = (factor * 100).rounded() / 100
                guard let decimal = Decimal(string: "\(hundredths)") else { return Int((Double(roll) * factors.reduce(1, *)).rounded()) }
                product *= decimal
            }
            var rounded = Decimal()
            NSDecimalRound(&rounded, &product, 0, .plain)
            return NSDecimalNumber(decimal: rounded).intValue
        }
    }

    /// What one user did in one guild.
    public struct Member: Sendable, Equatable {
        /// Messages the user posted (bots' too).
        public var messages = 0
        /// Messages sent in their name that are not their own activity — a join's system message,
        /// a webhook's post (under the webhook's ID) — which a bot counts nowhere.
        public var notOwnMessages = 0
        public var messagesEarningXP = 0
        public var xp = 0
        /// Unix milliseconds of the message that last earned XP.
        public var lastXPAt: UInt64?
        /// Reactions given and received that are still in place, by emoji.
        public var reactionsGiven: [String: Int] = [:]
        public var reactionsReceived: [String: Int] = [:]
        /// Karma received: +1 per karma-emoji reaction from another human to this human's message,
        /// −1 when such a reaction is removed.
        public var karma = 0
        public var joins = 0
        /// Every GUILD_MEMBER_REMOVE sent: leaves, and kicks and bans made through REST.
        public var leaves = 0
        /// As the last member event sent (a join or update, the traffic's or a REST call's) said —
        /// what a bot keeps of the member from those events; nil when there was none (a member
        /// since before the traffic, untouched since).
        public var pending: Bool?
        public var roles: [RoleID]?

        public init() {}

        /// Puts in the counters the messages table keeps.
        mutating func take(_ totals: MessageTotals.Totals) {
            messages = totals.messages
            messagesEarningXP = totals.messagesEarningXP
            xp = totals.xp
            lastXPAt = totals.lastXPAt
        }
    }

    public let rules: Rules
    private let stripes: [Stripe]

    /// Tables per stripe keyed by (guild, user), so a fact costs one lookup instead of a guild's
    /// table and then the member in it: messages' counters in ``MessageTotals`` (most of the
    /// traffic), everything else of a ``Member`` beside them.
    private struct MemberKey: Hashable {
        let guild: GuildID
        let user: UserID
    }

    private struct Tables {
        var messages = MessageTotals()
        /// Members' reactions, joins, leaves and roles; their message counters stay zero here.
        var others: [MemberKey: Member] = [:]

        /// Both tables' parts of the member; nil when neither has them.
        func member(_ key: MemberKey) -> Member? {
            let totals = messages.totals(guild: key.guild, user: key.user), other = others[key]
            guard totals != nil || other != nil else { return nil }
            var member = other ?? Member()
            if let totals { member.take(totals) }
            return member
        }
    }

    private final class Stripe: Sendable {
        let tables = Mutex(Tables())
    }

    public init(rules: Rules = Rules()) {
        self.rules = rules
        stripes = (0..<16).map { _ in Stripe() }
    }

    /// The XP a message earns when it earns any: Kamii's roll, derived from the message ID.
    public static func xpRoll(messageID: MessageID, rules: Rules) -> Int {
        var z = messageID.rawValue &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return rules.minimumXP + Int(z % UInt64(rules.maximumXP - rules.minimumXP + 1))
    }

    /// Counts an event that was sent.
    func apply(_ fact: TrafficFact) {
        switch fact {
        case .none, .interaction, .memberAnnouncedAgain:
            return
        case .message(let guild, let author, let id, let earnsXP, let channel, let parent, let roles):
            updateMessages(guild, author) { member in
                member.messages += 1
                guard earnsXP, rules.earnsXP(in: channel, parent: parent, guild: guild, roles: roles) else { return }
                let at = id.unixMilliseconds
                // At least 1 ms, as Kamii counts it: a message at the very time of the last XP earns nothing.
                if let last = member.lastXPAt, at < last + max(1, rules.cooldownMilliseconds) { return }
                let xp = rules.award(roll: Self.xpRoll(messageID: id, rules: rules), in: channel, parent: parent, guild: guild, roles: roles)
                // A roll of 0 earns nothing and starts no cooldown.
                guard xp > 0 else { return }
                member.lastXPAt = at
                member.messagesEarningXP += 1
                member.xp += xp
            }
        case .reaction(let guild, let giver, let receiver, let emoji, let added, let giverIsBot, let receiverIsBot):
            let change = added ? 1 : -1
            let givesKarma = rules.givesKarma(emoji) && !giverIsBot && !receiverIsBot && giver != receiver
            update(guild, giver) { $0.reactionsGiven[emoji, default: 0] += change }
            update(guild, receiver) { member in
                member.reactionsReceived[emoji, default: 0] += change
                if givesKarma { member.karma += change }
            }
        case .notOwnMessage(let guild, let author):
            update(guild, author) { $0.notOwnMessages += 1 }
        case .reactionsCleared(let removals):
            for removal in removals { apply(removal) }
        case .throughREST(let change):
            apply(change)
        case .memberJoined(let guild, let user, _, _, let pending):
            update(guild, user.id) { member in
                member.joins += 1
                member.pending = pending
                member.roles = []
            }
        case .memberLeft(let guild, let user):
            update(guild, user) { $0.leaves += 1 }
        case .memberUpdated(let guild, let user, let roles, let pending, _):
            update(guild, user) { member in
                member.pending = pending
                member.roles = roles
            }
        }
    }

    /// Starts loading what `fact` will update, when that is a message's counters: called as a
    /// dispatch is numbered, before it is compressed, and ``apply(_:)`` after finds them in the
    /// cache instead of waiting on memory (the table of every (guild, user) is far larger than it).
    func prefetch(_ fact: TrafficFact) {
        guard case .message(let guild, let author, _, _, _, _, _) = fact else { return }
        stripe(guild).tables.withLock { $0.messages.prefetch(guild: guild, user: author) }
    }

    /// What `user` did in `guild` so far.
    public func member(_ user: UserID, in guild: GuildID) -> Member {
        stripe(guild).tables.withLock { $0.member(MemberKey(guild: guild, user: user)) } ?? Member()
    }

    /// Every (guild, user) with anything to its name.
    public var all: [GuildID: [UserID: Member]] {
        stripes.reduce(into: [:]) { result, stripe in
            stripe.tables.withLock { tables in
                for (key, member) in tables.others { result[key.guild, default: [:]][key.user] = member }
                tables.messages.forEach { guild, user, totals in result[guild, default: [:]][user, default: Member()].take(totals) }
            }
        }
    }

    /// The total XP of every user of `guild`, the way a leaderboard lists it.
    public func xp(in guild: GuildID) -> [UserID: Int] {
        stripe(guild).tables.withLock { tables in
            var xp: [UserID: Int] = [:]
            tables.messages.forEach { owner, user, totals in
                if owner == guild, totals.xp > 0 { xp[user] = totals.xp }
            }
            return xp
        }
    }

    private func updateMessages(_ guild: GuildID, _ user: UserID, _ change: (inout MessageTotals.Totals) -> Void) {
        stripe(guild).tables.withLock { $0.messages.update(guild: guild, user: user, change) }
    }

    private func update(_ guild: GuildID, _ user: UserID, _ change: (inout Member) -> Void) {
        stripe(guild).tables.withLock { change(&$0.others[MemberKey(guild: guild, user: user), default: Member()]) }
    }

    private func stripe(_ guild: GuildID) -> Stripe {
        stripes[Int((guild.rawValue >> 22) % UInt64(stripes.count))]
    }
}
