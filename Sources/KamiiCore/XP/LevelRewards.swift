public import KamiiStore

/// What reaching a level changes for a member: the reward roles to add and to remove, and where the
/// level-up is announced. Rewards either stack (every reward role reached is kept) or replace
/// (only the highest reward reached is kept; the lower ones go).
///
/// The member's current roles are not known here (a level-up is computed in Redis), so the changes
/// are what the rewards imply between the level before and the level reached: a member who skipped
/// levels gets every reward on the way (stacked) or the highest with every lower one removed
/// (replaced; Discord answers a removal of a role the member lacks with success).
public struct LevelRewards: Sendable, Equatable {
    /// A reward role and the level that grants it.
    public struct Reward: Sendable, Equatable {
        public var level: Int
        public var role: UInt64

        public init(level: Int, role: UInt64) {
            self.level = level
            self.role = role
        }
    }

    /// Roles to add and roles to remove.
    public struct RoleChanges: Sendable, Equatable {
        public var add: [UInt64] = []
        public var remove: [UInt64] = []

        public init(add: [UInt64] = [], remove: [UInt64] = []) {
            self.add = add
            self.remove = remove
        }

        public var isEmpty: Bool { add.isEmpty && remove.isEmpty }
    }

    /// Lowest level first.
    public let rewards: [Reward]
    public let stack: Bool
    /// Where level-ups are announced; nil: not announced.
    public let announcementChannel: UInt64?

    public init(rewards: [Reward], stack: Bool, announcementChannel: UInt64?) {
        self.rewards = rewards.sorted { $0.level < $1.level }
        self.stack = stack
        self.announcementChannel = announcementChannel
    }

    /// The rewards and announcement channel of a stored configuration.
    public init(_ config: GuildConfig) {
        self.init(
            rewards: config.xp.levelRewards.map { Reward(level: $0.level, role: $0.role.rawValue) }, stack: config.xp.stackRewards,
            announcementChannel: config.channels.levelUp?.rawValue)
    }

    /// No rewards, no announcement.
    public static let none = LevelRewards(rewards: [], stack: true, announcementChannel: nil)

    /// Nothing to do on a level-up.
    public var isEmpty: Bool { rewards.isEmpty && announcementChannel == nil }

    /// The reward roles a member at `level` holds: every one reached when they stack, the highest
    /// reached when they replace (what a member who left and came back is given again).
    public func roles(atLevel level: Int) -> [UInt64] {
        let reached = rewards.filter { $0.level <= level }
        if stack { return reached.map(\.role) }
        return reached.last.map { [$0.role] } ?? []
    }

    /// When rewards replace: the rewards a member at `level` may be given, highest first, one per
    /// role — the one they are owed, then those to fall back on when Discord refuses it for good (a
    /// role above the bot's, deleted), so that a member is not left with no reward while a lower
    /// one can be given.
    public func tiers(atLevel level: Int) -> [Reward] {
        var seen: Set<UInt64> = []
        return rewards.reversed().filter { $0.level <= level && seen.insert($0.role).inserted }
    }

    /// The role changes of going from level `previous` to `level`.
    public func changes(from previous: Int, to level: Int) -> RoleChanges {
        guard level > previous else { return RoleChanges() }
        let reached = rewards.filter { $0.level > previous && $0.level <= level }
        guard !reached.isEmpty else { return RoleChanges() }
        if stack { return RoleChanges(add: reached.map(\.role)) }
        // Replace: the highest reward reached stays and every lower reward role goes — whether
        // Kamii gave it, the member had it before, or an admin added it by hand.
        let top = reached[reached.count - 1]
        return RoleChanges(add: [top.role], remove: roles(replacedBy: top))
    }

    /// When rewards replace: the roles `reward` replaces — every lower reward's but its own.
    public func roles(replacedBy reward: Reward) -> [UInt64] {
        rewards.filter { $0.level < reward.level && $0.role != reward.role }.map(\.role)
    }
}
