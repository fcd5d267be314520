public import DiscordModels
import Foundation

/// The guilds, channels, roles and members that generated traffic talks about.
///
/// Activity is skewed like real networks: guild `rank` gets weight 1 / rank^1.1, so a few guilds
/// carry most of the traffic and thousands are nearly silent.
public struct TrafficWorld: Sendable {
    public struct User: Sendable, Equatable {
        public let id: UserID
        public let username: String
        public let avatar: String?
        public let isBot: Bool
    }

    public struct Guild: Sendable {
        public let id: GuildID
        public let channels: [ChannelID]
        public let roles: [RoleID]
        /// Indexes into ``TrafficWorld/users``, each user once.
        public let members: [Int]
        /// When each member joined, in Unix milliseconds, parallel to `members`.
        public let joinedAt: [UInt64]
    }

    public let users: [User]
    public let guilds: [Guild]
    /// Running sums of the guilds' activity weights, for weighted picks.
    private let cumulativeWeights: [Double]
    /// "Now" for the world: messages are created after it.
    public let startMilliseconds: UInt64
    /// What the bot's managed role grants in every guild.
    public var botPermissions: Permissions = .botDefault
    private let userIndexes: [UserID: Int]
    private let guildIndexes: [GuildID: Int]

    /// Builds a world from a seed. The same seed gives the same world.
    public init(guildCount: Int, userCount: Int, seed: UInt64, startMilliseconds: UInt64 = 1_795_000_000_000) {
        precondition(guildCount > 0 && userCount > 0, "a world needs guilds and users")
        var random = SeededRandom(seed: seed)
        self.startMilliseconds = startMilliseconds
        let epoch = GuildID.discordEpochMilliseconds
        let syllables = ["ka", "mi", "ro", "zen", "tor", "ly", "an", "vex", "qu", "sh", "el", "dra", "no", "ix"]

        let users = (0..<userCount).map { index in
            let created = epoch + UInt64(random.below(Int(startMilliseconds - epoch)))
            let name = (0..<random.inRange(2...4)).map { _ in syllables[random.below(syllables.count)] }.joined()
            return User(
                id: UserID(unixMilliseconds: created, worker: 1, increment: UInt64(index)),
                username: name + String(random.below(1000)),
                avatar: random.chance(70) ? random.hex(32) : nil,
                isBot: random.chance(2))
        }

        self.users = users
        userIndexes = Dictionary(users.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var guilds: [Guild] = []
        var weights: [Double] = []
        var total = 0.0
        for rank in 1...guildCount {
            let created = epoch + UInt64(random.below(Int(startMilliseconds - epoch) / 2))
            let id = GuildID(unixMilliseconds: created, worker: 2, increment: UInt64(rank))
            let weight = 1.0 / pow(Double(rank), 1.1)
            // Bigger guilds (low rank) have more members and channels.
            let memberCount = min(userCount, max(3, Int(Double(userCount) * weight * 4) + random.inRange(3...40)))
            var members: [Int] = []
            var isMember = Set<Int>()
            while members.count < memberCount {
                let user = random.below(userCount)
                if isMember.insert(user).inserted { members.append(user) }
            }
            let joinedAt = members.map { user in
                let userCreated = max(created, users[user].id.unixMilliseconds)
                return userCreated + UInt64(random.below(Int(startMilliseconds - userCreated)))
            }
            guilds.append(Guild(
                id: id,
                channels: (0..<random.inRange(3...40)).map { ChannelID(unixMilliseconds: created + 1, worker: 3, increment: UInt64($0)) },
                roles: (0..<random.inRange(1...25)).map { RoleID(unixMilliseconds: created + 2, worker: 4, increment: UInt64($0)) },
                members: members,
                joinedAt: joinedAt))
            total += weight
            weights.append(total)
        }
        self.guilds = guilds
        guildIndexes = Dictionary(guilds.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        cumulativeWeights = weights
    }

    /// The activity weight of the guild at `index` (its rank is `index + 1`).
    public func activityWeight(ofGuildAt index: Int) -> Double {
        1.0 / pow(Double(index + 1), 1.1)
    }

    /// The index of a user of the world in ``users``.
    public func userIndex(of id: UserID) -> Int? {
        userIndexes[id]
    }

    /// The index of a guild in ``guilds``.
    public func guildIndex(of id: GuildID) -> Int? {
        guildIndexes[id]
    }

    /// Picks a guild with probability proportional to its activity.
    public func pickGuild(_ random: inout SeededRandom) -> Int {
        Self.weightedPick(cumulativeWeights, &random)
    }

    /// An index drawn with probability proportional to its weight, given running sums of weights.
    static func weightedPick(_ cumulativeWeights: [Double], _ random: inout SeededRandom) -> Int {
        let target = Double(random.next() >> 11) / Double(1 << 53) * cumulativeWeights[cumulativeWeights.count - 1]
        var low = 0
        var high = cumulativeWeights.count - 1
        while low < high {
            let middle = (low + high) / 2
            if cumulativeWeights[middle] < target { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
