public import DiscordModels
public import DiscordREST
public import KamiiCore
public import KamiiStats

/// What a level-up does on Discord: reward roles and the announcement. Behind a protocol so the
/// rewarder's rules are testable; ``RESTLevelUpActions`` is the real one.
public protocol LevelUpActions: Sendable {
    func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError)
    func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError)
    /// Posts the members' new levels in `channel` in one message, mentioning (and pinging) only them.
    func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError)
    /// The roles the member holds now; nil when the actions cannot tell (every replaced reward is
    /// then removed, held or not).
    func roles(of user: UserID, in guild: GuildID) async throws(RESTError) -> [RoleID]?
    /// Whether a call that Discord may refuse can be sent now: false once the invalid requests of
    /// the last window reach the share left to background work, so that guilds whose settings
    /// Discord refuses cannot spend the budget moderation and interactions need.
    var mayRiskRefusals: Bool { get }
}

extension LevelUpActions {
    public func roles(of user: UserID, in guild: GuildID) async throws(RESTError) -> [RoleID]? { nil }
    public var mayRiskRefusals: Bool { true }
}

/// Where a member's level is read from (a member who comes back is given the rewards of it).
public protocol MemberLevels: Sendable {
    /// The member's level in the guild and whether they are pending Membership Screening; nil for
    /// a member it has no record of (a newcomer). Throws when that cannot be told yet —
    /// ``StatsReader/GuildNotLoaded`` while Redis holds nothing of the guild — or the read failed.
    func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)?
}

extension MemberLevels {
    /// The level whose rewards the member is owed now: their level, or 0 while they are pending
    /// Membership Screening (a role would let them skip it; passing it is a join of its own); nil
    /// for a member it has no record of.
    public func owedLevel(of user: UserID, in guild: GuildID) async throws -> Int? {
        try await standing(of: user, in: guild).map { $0.isPending ? 0 : $0.level }
    }
}

extension StatsReader: MemberLevels {
    /// A member Redis has no record of is a newcomer only in a guild Redis holds: in one it lost
    /// (restarted empty) the member may be in the checkpoint, loaded before the guild's next flush.
    /// Read when the join is carried out, not when it was kept: a member who came back pending
    /// since (their join still on its way) is owed nothing yet.
    public func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? {
        try await member(user, inLoaded: guild).map { ($0.level, $0.isPending == true) }
    }
}

/// Where level-ups and returning members' joins wait until carried out (so a crash or a restart
/// loses none).
public protocol WaitingLevelUps: Sendable {
    /// What earlier runs left to do.
    func waiting() async throws -> [LevelUp]
    /// What waits in these guilds (to try again what could not be carried out).
    func waiting(in guilds: [GuildID]) async throws -> [LevelUp]
    /// These are carried out.
    func done(_ levelUps: [LevelUp]) async throws
    /// The joins earlier runs left.
    func waitingJoins() async throws -> [MemberJoin]
    /// The joins waiting in these guilds.
    func waitingJoins(in guilds: [GuildID]) async throws -> [MemberJoin]
    /// These joins are over.
    func joinsDone(_ joins: [MemberJoin]) async throws
    /// Whether a level-up of the member waits in the guild.
    func hasWaiting(_ user: UserID, in guild: GuildID) async throws -> Bool
}

extension WaitingLevelUps {
    /// None known: a member whose record says pending is taken as back pending screening.
    public func hasWaiting(_ user: UserID, in guild: GuildID) async throws -> Bool { false }
}

extension LevelUpBacklog: WaitingLevelUps {}

/// Level-up actions through Discord's REST API (rate limits, retries and the invalid-request
/// budget are the client's).
public struct RESTLevelUpActions: LevelUpActions {
    public let client: DiscordRESTClient

    public init(client: DiscordRESTClient) {
        self.client = client
    }

    public func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {
        try await client.addRole(role, to: user, in: guild, reason: "Level reward")
    }

    public func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {
        try await client.removeRole(role, from: user, in: guild, reason: "Level reward replaced by a higher one")
    }

    public func roles(of user: UserID, in guild: GuildID) async throws(RESTError) -> [RoleID]? {
        try await client.member(user, in: guild).roles
    }

    /// Rewards may spend half the client's invalid-request budget (``LevelUpActions/mayRiskRefusals``).
    public var mayRiskRefusals: Bool {
        client.invalidRequests < client.configuration.invalidRequestLimit / 2
    }

    public func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
        guard let first = members.first else { return }
        let content = members.count == 1
            ? "GG <@\(first.user.rawValue)>, you just reached level **\(first.level)**!"
            : "GG! " + members.map { "<@\($0.user.rawValue)> reached level **\($0.level)**" }.joined(separator: ", ") + "."
        // The same announcement always has the same nonce: one sent again (its answer lost, or the
        // level-up retried) within Discord's few minutes posts nothing twice.
        let message = MessageCreate(
            content: content, allowedMentions: AllowedMentions(parse: [], users: members.map(\.user.description)),
            nonce: Self.nonce(of: content, in: channel), enforceNonce: true)
        _ = try await client.createMessage(in: channel, message)
    }

    /// "lu" and an FNV-1a hash of the channel and the text, in base 36 (15 characters at most).
    static func nonce(of content: String, in channel: ChannelID) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in String(channel.rawValue).utf8 + [0] + content.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return "lu" + String(hash, radix: 36)
    }
}
