public import DiscordModels
public import KamiiStore

/// A guild's XP rules, ready for the hot path: ID sets instead of arrays, milliseconds instead of
/// seconds. The rule itself is documented in docs/XP.md. A class, so a guild actor reads them on
/// every message without copying four collections.
public final class XPRules: Sendable {
    public let minimumXP: Int
    public let maximumXP: Int
    public let cooldownMilliseconds: UInt64
    public let multiplier: Double
    public let channelMultipliers: [UInt64: Double]
    public let roleMultipliers: [UInt64: Double]
    public let noXPChannels: Set<UInt64>
    public let noXPRoles: Set<UInt64>

    /// MEE6's defaults: 15–25 XP, once per 60 s, no multipliers or exclusions.
    public static let defaults = XPRules(GuildConfig.XPSettings())

    public init(_ settings: GuildConfig.XPSettings) {
        // Held within what the panel allows (its check is the rule; these bounds only keep settings
        // that reached the database some other way from trapping the arithmetic below).
        minimumXP = min(max(0, settings.minPerMessage), 1_000_000)
        maximumXP = max(minimumXP, min(settings.maxPerMessage, 1_000_000))
        cooldownMilliseconds = Self.effectiveCooldown(seconds: settings.cooldownSeconds)
        multiplier = Self.bounded(settings.multiplier)
        channelMultipliers = Dictionary(settings.channelMultipliers.map { ($0.key.rawValue, Self.bounded($0.value)) }, uniquingKeysWith: { first, _ in first })
        roleMultipliers = Dictionary(settings.roleMultipliers.map { ($0.key.rawValue, Self.bounded($0.value)) }, uniquingKeysWith: { first, _ in first })
        noXPChannels = Set(settings.noXPChannels.map(\.rawValue))
        noXPRoles = Set(settings.noXPRoles.map(\.rawValue))
    }

    /// A multiplier within 0 ... 100 (not a number: 1), to the hundredth: three factors then make
    /// a product of at most six decimals, which ``scaled(_:by:)`` rounds exactly.
    private static func bounded(_ multiplier: Double) -> Double {
        multiplier.isNaN ? 1 : (min(max(0, multiplier), 100) * 100).rounded() / 100
    }

    /// A cooldown's seconds within 0 ... a year: settings come from a database, whatever reached it
    /// (the panel allows a day), and times are added to them with wrapping arithmetic.
    public static func clampedCooldown(seconds: Int) -> Int {
        min(max(0, seconds), 31_536_000)
    }

    /// A cooldown in milliseconds, at least 1: with none configured, a message seen again (a
    /// replay, at the very time of the author's last XP) must still earn nothing the second time.
    private static func effectiveCooldown(seconds: Int) -> UInt64 {
        max(1, UInt64(clampedCooldown(seconds: seconds)) * 1_000)
    }

    /// Whether the author's roles matter (for exclusions or multipliers), so the role list must be read.
    public var readsRoles: Bool { !noXPRoles.isEmpty || !roleMultipliers.isEmpty }

    /// No multiplier anywhere: the award is the roll.
    private var isPlain: Bool { multiplier == 1 && channelMultipliers.isEmpty && roleMultipliers.isEmpty }

    /// Whether channel rules exist, so a thread's parent channel must be looked up: a thread
    /// follows its channel's no-XP setting and multiplier unless it has its own.
    public var readsChannelParents: Bool { !noXPChannels.isEmpty || !channelMultipliers.isEmpty }

    /// Why a message earns no XP, before the cooldown is looked at.
    public enum Exclusion: Sendable, Equatable {
        case bot, webhook, systemMessage, notInGuild, noXPChannel, noXPRole
    }

    /// The reason `message` can never earn XP, or nil when it can (subject to the cooldown).
    /// `roles` are the author's roles, read only when ``readsRoles``; `parentChannel` is the
    /// channel of the thread the message is in, looked up only when ``readsChannelParents``. Every
    /// member holds @everyone, the role whose ID is the guild's, though Discord never lists it.
    public func exclusion(of message: MessageCreateFields, roles: [UInt64], parentChannel: UInt64? = nil) -> Exclusion? {
        if let excluded = Self.exclusionOfAnyGuild(message) { return excluded }
        if noXPChannels.contains(message.channelID) { return .noXPChannel }
        if let parentChannel, noXPChannels.contains(parentChannel) { return .noXPChannel }
        if !noXPRoles.isEmpty, message.guildID.map(noXPRoles.contains) == true || roles.contains(where: noXPRoles.contains) {
            return .noXPRole
        }
        return nil
    }

    /// Why `message` earns no XP whatever a guild configured (a bot's, a webhook's, a system
    /// message, not in a guild), or nil.
    public static func exclusionOfAnyGuild(_ message: MessageCreateFields) -> Exclusion? {
        if message.authorIsBot { return .bot }
        if message.isWebhook { return .webhook }
        if message.type != 0 && message.type != 19 { return .systemMessage }
        if message.guildID == nil { return .notInGuild }
        return nil
    }

    /// Rules with no multiplier and no exclusion list, as plain values: a message's XP is its roll
    /// and its cooldown is all that holds it back.
    public struct Plain: Sendable, Equatable {
        public let minimumXP: Int
        public let maximumXP: Int
        public let cooldownMilliseconds: UInt64
    }

    /// These rules as plain values when that is all they are (MEE6's defaults, most guilds), so
    /// the hot path reads them without touching this object — one that every unconfigured guild's
    /// actor shares, on every core.
    public var plain: Plain? {
        guard isPlain, noXPChannels.isEmpty, noXPRoles.isEmpty else { return nil }
        return Plain(minimumXP: minimumXP, maximumXP: maximumXP, cooldownMilliseconds: cooldownMilliseconds)
    }

    /// Whether a message at `messageTime` is still within the cooldown of the author's last XP.
    public func isCoolingDown(messageTime: UInt64, lastXPAt: UInt64?) -> Bool {
        Self.isCoolingDown(messageTime: messageTime, lastXPAt: lastXPAt, cooldownMilliseconds: cooldownMilliseconds)
    }

    /// Whether a message at `messageTime` is still within `cooldownMilliseconds` of the author's last XP.
    public static func isCoolingDown(messageTime: UInt64, lastXPAt: UInt64?, cooldownMilliseconds: UInt64) -> Bool {
        guard let lastXPAt else { return false }
        return messageTime < lastXPAt &+ cooldownMilliseconds
    }

    /// The XP a message earns: the roll for its ID times the global, channel (the thread's own, or
    /// else its parent channel's) and (highest) role multipliers, rounded to the nearest whole XP.
    /// `guild`: the guild's ID, which is @everyone's, a role every member holds.
    public func award(messageID: UInt64, channelID: UInt64, parentChannel: UInt64? = nil, roles: [UInt64], guild: UInt64? = nil) -> Int {
        let roll = Self.roll(messageID: messageID, minimum: minimumXP, maximum: maximumXP)
        if isPlain { return roll }
        let channelFactor = channelMultipliers[channelID] ?? parentChannel.flatMap { channelMultipliers[$0] } ?? 1
        var factor = multiplier * channelFactor
        if !roleMultipliers.isEmpty, let highest = highestRoleMultiplier(roles, guild: guild) { factor *= highest }
        if factor == 1 { return roll }
        return Self.scaled(roll, by: factor)
    }

    /// `roll × factor` to the nearest whole XP (halves up), as the decimals make it: with each factor
    /// to the hundredth the exact product has at most six decimals, so taking the binary one to a
    /// millionth gives it back — 15 × 4.1, 61.49999999999999 in binary, is the 61.5 anyone works
    /// out, and earns 62, not 61. Exact while the product stays under about 9 × 10⁹ (a double's 53
    /// bits, at six decimals): always within the panel's limits (1,000 XP, multipliers up to 10);
    /// beyond them, settings only the database could hold may round a half the other way.
    static func scaled(_ roll: Int, by factor: Double) -> Int {
        let product = Double(roll) * factor
        return Int(((product * 1_000_000).rounded() / 1_000_000).rounded())
    }

    /// The highest multiplier among the author's roles and @everyone, found without building an
    /// array for every message.
    private func highestRoleMultiplier(_ roles: [UInt64], guild: UInt64?) -> Double? {
        var highest = guild.flatMap { roleMultipliers[$0] }
        for role in roles {
            if let factor = roleMultipliers[role], factor > highest ?? -1 { highest = factor }
        }
        return highest
    }

    /// `min + splitmix64(id) % (max - min + 1)`: the same message always earns the same XP, so a
    /// replayed message or a retried flush cannot change a total.
    public static func roll(messageID: UInt64, minimum: Int, maximum: Int) -> Int {
        var z = messageID &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return minimum + Int(z % UInt64(maximum - minimum + 1))
    }
}
