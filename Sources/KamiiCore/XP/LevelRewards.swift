public import KamiiStore

/// What reaching a level changes for a member: the reward roles to add and to remove, and where the
/// level-up is announced. Rewards either stack (every reward role reached is kept) or replace
/// (only the highest reward reached is kept; the lower ones go).
///
/// The member's current roles are not known here (a level-up is computed in Redis), so the changes
/// are what the rewards imply between the level before and the level reached — a member who skipped
/// levels gets every reward on the way.
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

    /// The role changes of going from level `previous` to `level`.
    public func changes(from previous: Int, to level: Int) -> RoleChanges {
        guard level > previous else { return RoleChanges() }
        let reached = rewards.filter { $0.level > previous && $0.level <= level }
        guard !reached.isEmpty else { return RoleChanges() }
        if stack { return RoleChanges(add: reached.map(\.role)) }
        // Replace: the highest reward reached stays; the ones below it, held or just passed, go.
        let top = reached[reached.count - 1]
        let below = rewards.filter { $0.level < top.level && $0.role != top.role }.map(\.role)
        return RoleChanges(add: [top.role], remove: below.filter { role in
            // Passed on the way in this level-up: never added, nothing to remove — unless an
            // earlier level also grants it.
            rewards.contains { $0.role == role && $0.level <= previous }
        })
    }
}
