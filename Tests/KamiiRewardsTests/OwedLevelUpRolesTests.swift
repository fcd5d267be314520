import DiscordModels
import DiscordREST
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// A level-up's roles are given as far as the member's record in Redis says they are owed them
/// when the rewarder gets to it: a member who left and came back pending Membership Screening
/// meanwhile is given none (a role would let them skip the screening), nor is a member deleted on
/// request since. A record saying pending beside a level-up still waiting in Redis is a stale flag
/// (the flush of a return pending deletes it): the roles are given.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct OwedLevelUpRolesTests {
    let guild = GuildID(UInt64.random(in: 1...(1 << 40)) << 22)
    let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")

    /// What member 77's record says when their level-up from 4 to 12 is carried out.
    enum Record: Sendable, CustomTestStringConvertible {
        case level(Int, pending: Bool)
        /// The guild is loaded (another member's record, the batch marker), 77 has no record.
        case deleted
        /// Redis holds nothing of the guild (restarted empty, not loaded back yet).
        case guildNotLoaded

        var testDescription: String {
            switch self {
            case .level(let level, let pending): "level \(level)\(pending ? ", pending screening" : "")"
            case .deleted: "no record"
            case .guildNotLoaded: "guild not in Redis"
            }
        }
    }

    /// Stacked rewards at levels 5 and 10: the roles given for 4 → 12 (waiting in Redis) are those
    /// the record allows.
    @Test(arguments: [
        (Record.level(12, pending: false), [501, 1_001]),
        (.level(12, pending: true), [501, 1_001]),
        (.deleted, []),
        (.level(7, pending: false), [501]),
        (.level(3, pending: false), []),
        (.guildNotLoaded, [501, 1_001]),
    ] as [(Record, [UInt64])])
    func rolesFollowTheRecord(_ record: Record, expected: [UInt64]) async throws {
        let redis = try RedisTestServer.client()
        switch record {
        case .level(let level, let pending):
            try await ReturningMemberRetryTests.load(member: 77, at: level, pending: pending, in: guild, keys, redis)
        case .deleted:
            try await ReturningMemberRetryTests.load(member: 78, at: 3, in: guild, keys, redis)
        case .guildNotLoaded:
            break
        }
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "4:12")
        let actions = DurableJoinsTests.reachable()
        let rewarder = LevelUpRewarder(
            settings: DurableJoinsTests.settings, actions: actions, levels: StatsReader(redis: redis, keys: keys),
            backlog: LevelUpBacklog(redis: redis, keys: keys), retryDelay: .milliseconds(1))

        await rewarder.handle(LevelUp(guild: guild, user: UserID(77), from: 4, to: 12))

        #expect(actions.added.value.sorted() == expected)
        #expect(rewarder.totals.rolesWithheld == (expected.isEmpty ? 1 : 0))
        let waiting = try await redis.send("HLEN", keys.waitingLevelUps(in: guild)).int
        #expect(waiting == 0, "the level-up is over")
        _ = try await redis.send("DEL", keys.members(in: guild), keys.waitingLevelUps(in: guild))
        await redis.close()
    }

    /// A member who left and came back pending after their level-up was reported: the flush that saw
    /// them back deleted its copy in Redis, and the level-up the lane still holds gives nothing. It
    /// waits for a retry, which finds nothing left in Redis; passing the screening is a join.
    @Test func aLevelUpOfAMemberBackPendingGivesNothing() async throws {
        let redis = try RedisTestServer.client()
        try await ReturningMemberRetryTests.load(member: 77, at: 12, pending: true, in: guild, keys, redis)
        let actions = DurableJoinsTests.reachable()
        let rewarder = LevelUpRewarder(
            settings: DurableJoinsTests.settings, actions: actions, levels: StatsReader(redis: redis, keys: keys),
            backlog: LevelUpBacklog(redis: redis, keys: keys), retryDelay: .milliseconds(1))
        await rewarder.handle(LevelUp(guild: guild, user: UserID(77), from: 4, to: 12))
        #expect(actions.added.value.isEmpty && rewarder.totals.rolesWithheld == 1)
        #expect(rewarder.failedGuilds.withLock { $0.contains(guild.rawValue) }, "left to the guild's retry")
        _ = try await redis.send("DEL", keys.members(in: guild))
        await redis.close()
    }

    /// A level-up whose level brings no role change is not read for: nothing is asked of Redis.
    @Test func aLevelUpWithoutRoleChangesReadsNoRecord() async throws {
        final class CountedLevels: MemberLevels {
            let reads = Locked(0)
            func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? {
                reads.withLock { $0 += 1 }
                return nil
            }
        }
        let levels = CountedLevels()
        let actions = DurableJoinsTests.reachable()
        let rewarder = LevelUpRewarder(settings: DurableJoinsTests.settings, actions: actions, levels: levels, retryDelay: .milliseconds(1))
        await rewarder.handle(LevelUp(guild: guild, user: UserID(77), from: 6, to: 7))
        #expect(levels.reads.value == 0 && rewarder.totals.rolesWithheld == 0)
        await rewarder.handle(LevelUp(guild: guild, user: UserID(77), from: 9, to: 10))
        #expect(levels.reads.value == 1 && rewarder.totals.rolesWithheld == 1 && actions.added.value.isEmpty)
    }

    /// Roles and announcements, recorded.
    final class Recorded: LevelUpActions, Sendable {
        let roles = Locked<[UInt64]>([]), announced = Locked<[[UInt64]]>([])
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) { roles.withLock { $0.append(role.rawValue) } }
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
            announced.withLock { $0 += members.map { [$0.user.rawValue, UInt64($0.level)] } }
        }
    }

    /// What is announced follows the same read: a member deleted on request since is not
    /// announced, one whose record is lower is announced at the record's level.
    @Test func announcementsFollowTheRecordToo() async throws {
        let redis = try RedisTestServer.client()
        try await ReturningMemberRetryTests.load(member: 77, at: 7, in: guild, keys, redis)
        let rewards = LevelRewards(rewards: [.init(level: 5, role: 501), .init(level: 10, role: 1_001)], stack: true, announcementChannel: 900)
        let actions = Recorded()
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: actions,
            levels: StatsReader(redis: redis, keys: keys), retryDelay: .milliseconds(1))
        // 78 has no record (deleted); 77's record is at level 7.
        await rewarder.handle([
            .levelUp(LevelUp(guild: guild, user: UserID(77), from: 4, to: 12)), .levelUp(LevelUp(guild: guild, user: UserID(78), from: 4, to: 12)),
        ])
        #expect(actions.roles.value == [501])
        #expect(actions.announced.value == [[77, 7]])
        _ = try await redis.send("DEL", keys.members(in: guild))
        await redis.close()
    }
}
