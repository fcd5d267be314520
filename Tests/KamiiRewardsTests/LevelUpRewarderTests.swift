import DiscordModels
import DiscordREST
import DiscordSimulator
import Foundation
import KamiiCore
import KamiiRedis
@testable import KamiiRewards
import KamiiStats
import KamiiTestSupport
import Testing

/// The rewarder against the simulator's REST API, which checks permissions and the role hierarchy
/// as Discord does and keeps every member's roles: what the record and the member's roles say is
/// what Discord would have done.
struct LevelUpRewarderTests {
    static let world = TrafficWorld(guildCount: 6, userCount: 300, seed: 41)

    /// A guild with at least two plain roles (below the bot's), and one of its plain members.
    static func pick() throws -> (guild: TrafficWorld.Guild, member: UserID) {
        let guild = try #require(world.guilds.first { $0.roles.count >= 4 && $0.members.count >= 10 })
        let admin = guild.roles[guild.roles.count - 1]
        let slot = try #require((1..<guild.members.count).first { slot in
            !world.initialRoles(of: guild, slot: slot).contains(admin) && !world.users[guild.members[slot]].isBot
        })
        return (guild, world.users[guild.members[slot]].id)
    }

    static func start() async throws -> (SimulatorServer, DiscordRESTClient) {
        let configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        let server = try await SimulatorServer.start(configuration)
        let client = DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: configuration.token))
        return (server, client)
    }

    @Test func replacedRewardsEndWithOnlyTheHighestRoleAndEveryLevelUpIsAnnounced() async throws {
        let (server, client) = try await Self.start()
        let (guild, member) = try Self.pick()
        let low = guild.roles[0], high = guild.roles[1], channel = guild.channels[0]
        let rewards = LevelRewards(
            rewards: [.init(level: 5, role: low.rawValue), .init(level: 10, role: high.rawValue)], stack: false, announcementChannel: channel.rawValue)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client))
        let before = try await client.member(member, in: guild.id).roles
        if before.contains(low) { try await client.removeRole(low, from: member, in: guild.id) }
        if before.contains(high) { try await client.removeRole(high, from: member, in: guild.id) }
        let calls = server.record.rest.count

        for levelUp in [
            LevelUp(guild: guild.id, user: member, from: 4, to: 5), LevelUp(guild: guild.id, user: member, from: 5, to: 6),
            LevelUp(guild: guild.id, user: member, from: 9, to: 11),
        ] {
            await rewarder.handle(levelUp)
        }

        let made = server.record.rest.dropFirst(calls).map { "\($0.route ?? $0.path) \($0.status)" }
        #expect(made == [
            "PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id} 204", "POST /channels/{channel.id}/messages 200",
            "POST /channels/{channel.id}/messages 200",
            "PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id} 204", "DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id} 204",
            "POST /channels/{channel.id}/messages 200",
        ])
        let roles = try await client.member(member, in: guild.id).roles
        #expect(roles.contains(high) && !roles.contains(low))
        let announcement = try #require(server.record.rest.last { $0.method == "POST" })
        #expect(announcement.body.contains("<@\(member.rawValue)>") && announcement.body.contains("level **11**"))
        #expect(announcement.body.contains(#""users":["\#(member.rawValue)"]"#), "only the member is pinged: \(announcement.body)")
        #expect(server.record.rest.dropFirst(calls).filter { $0.method == "PUT" || $0.method == "DELETE" }.allSatisfy { $0.auditLogReason?.hasPrefix("Level reward") == true })
        #expect(rewarder.totals == .init(levelUps: 3, rolesAdded: 2, rolesRemoved: 1, announcements: 3, membersAnnounced: 3))
        try await server.stop()
    }

    /// Level-ups queued together (Discord slower than members level up): a member's become one
    /// change and one mention, and the guild's members are announced in one message.
    @Test func aBacklogIsMergedPerMemberAndAnnouncedTogether() async throws {
        let (server, client) = try await Self.start()
        let (guild, member) = try Self.pick()
        let other = try #require(guild.members.dropFirst().map { Self.world.users[$0] }.first { $0.id != member && !$0.isBot }).id
        let low = guild.roles[0], high = guild.roles[1], channel = guild.channels[0]
        let rewards = LevelRewards(
            rewards: [.init(level: 5, role: low.rawValue), .init(level: 10, role: high.rawValue)], stack: false, announcementChannel: channel.rawValue)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client))
        let calls = server.record.rest.count

        await rewarder.handle([
            .levelUp(LevelUp(guild: guild.id, user: member, from: 4, to: 5)), .levelUp(LevelUp(guild: guild.id, user: other, from: 1, to: 2)),
            .levelUp(LevelUp(guild: guild.id, user: member, from: 5, to: 6)), .levelUp(LevelUp(guild: guild.id, user: member, from: 9, to: 11)),
        ])

        let made = server.record.rest.dropFirst(calls)
        // 4 → 11 at once: the level-10 role, and the level-5 one it replaces removed (never added).
        #expect(made.map { "\($0.route ?? $0.path) \($0.status)" } == [
            "PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id} 204", "DELETE /guilds/{guild.id}/members/{user.id}/roles/{role.id} 204",
            "POST /channels/{channel.id}/messages 200",
        ])
        let body = try #require(made.last?.body)
        #expect(body.contains("<@\(member.rawValue)> reached level **11**") && body.contains("<@\(other.rawValue)> reached level **2**"), "\(body)")
        #expect(rewarder.totals == .init(levelUps: 4, rolesAdded: 1, rolesRemoved: 1, announcements: 1, membersAnnounced: 2))
        try await server.stop()
    }

    /// A member who left and came back (Discord dropped their roles) gets the rewards of the level
    /// Redis still has: the highest when rewards replace, every one reached when they stack.
    @Test(arguments: [false, true])
    func aReturningMemberGetsTheirRewardsBack(stack: Bool) async throws {
        struct FixedLevels: MemberLevels {
            let levels: [UserID: Int]
            func standing(of user: UserID, in guild: GuildID) async throws -> (level: Int, isPending: Bool)? { levels[user].map { ($0, false) } }
        }
        let (server, client) = try await Self.start()
        let (guild, member) = try Self.pick()
        let low = guild.roles[0], high = guild.roles[1]
        let rewards = LevelRewards(rewards: [.init(level: 5, role: low.rawValue), .init(level: 10, role: high.rawValue)], stack: stack, announcementChannel: nil)
        let newcomer = Self.world.users[guild.members[guild.members.count - 1]].id
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            levels: FixedLevels(levels: [member: 12]))
        for role in [low, high] where try await client.member(member, in: guild.id).roles.contains(role) {
            try await client.removeRole(role, from: member, in: guild.id)
        }
        let calls = server.record.rest.count

        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: [MemberJoin(guild: guild.id, user: member), MemberJoin(guild: guild.id, user: newcomer)].async)

        let roles = try await client.member(member, in: guild.id).roles
        #expect(roles.contains(high) && roles.contains(low) == stack, "\(roles)")
        #expect(server.record.rest.dropFirst(calls).filter { $0.method == "PUT" }.count == (stack ? 2 : 1), "nothing for the newcomer")
        #expect(rewarder.totals.rolesRestored == (stack ? 2 : 1))
        try await server.stop()
    }

    /// What a crash or a restart left waiting in Redis is carried out at start, then marked done.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func levelUpsLeftByAnEarlierRunAreCarriedOut() async throws {
        let (server, client) = try await Self.start()
        let (guild, member) = try Self.pick()
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        try await redis.send("HSET", keys.waitingLevelUps(in: guild.id), String(member.rawValue), "3:5")
        let rewards = LevelRewards(rewards: [], stack: true, announcementChannel: guild.channels[0].rawValue)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            backlog: LevelUpBacklog(redis: redis, keys: keys))
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waiting: await rewarder.waitingLevelUps())
        let announcement = try #require(server.record.rest.last { $0.method == "POST" })
        #expect(announcement.body.contains("<@\(member.rawValue)>") && announcement.body.contains("level **5**"))
        #expect(try await redis.send("EXISTS", keys.waitingLevelUps(in: guild.id)).int == 0, "marked done")
        await redis.close()
        try await server.stop()
    }

    /// A level-up leaves Redis's list only when it is over: done, or refused by Discord (sending it
    /// again would not help). One that failed for a reason that may pass (Discord unreachable, the
    /// task cancelled at shutdown) stays for the next start.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func onlyLevelUpsThatAreOverLeaveRedis() async throws {
        struct Failing: LevelUpActions {
            /// Announcing in channel 1 fails as a connection would; in channel 2 Discord refuses; in
            /// channel 3 a 429 outlasted the client's resends; in channel 4 the token was refused.
            func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {}
            func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
            func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
                if channel.rawValue == 1 { throw RESTError(.transport(description: "connection refused")) }
                if channel.rawValue == 3 { throw RESTError(.discord(status: 429, code: 0, message: "You are being rate limited.")) }
                if channel.rawValue == 4 { throw RESTError(.discord(status: 401, code: 0, message: "401: Unauthorized")) }
                throw RESTError(.discord(status: 403, code: 50001, message: "Missing Access"))
            }
        }
        struct ChannelPerGuild: GuildSettingsSource {
            func settings(for guild: GuildID) async -> GuildSettings? {
                GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(rewards: [], stack: true, announcementChannel: guild.rawValue >> 22))
            }
        }
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let (unreachable, refusing, limited, unauthorized) = (GuildID(1 << 22), GuildID(2 << 22), GuildID(3 << 22), GuildID(4 << 22))
        for guild in [unreachable, refusing, limited, unauthorized] { try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "0:3") }
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        let rewarder = LevelUpRewarder(settings: ChannelPerGuild(), actions: Failing(), backlog: backlog, retryDelay: .milliseconds(1))
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waiting: await rewarder.waitingLevelUps())
        #expect(Set(try await backlog.waiting().map(\.guild)) == [unreachable, limited, unauthorized])
        #expect(rewarder.totals.failures == 4)
        // A level-up that covers less than what waits (a newer stretch) leaves it.
        try await backlog.done([LevelUp(guild: unreachable, user: UserID(77), from: 1, to: 3)])
        #expect(try await backlog.waiting().count == 3)
        await redis.close()
    }

    /// Records the roles given; settings as `Settings` says.
    final class RecordedRoles: LevelUpActions, @unchecked Sendable {
        let added = Locked<[UInt64]>([])
        func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) { added.withLock { $0.append(role.rawValue) } }
        func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
        func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {}
    }

    /// Settings that give `role` at level 1; unreadable while `readable` is false (as the SQL
    /// store's are in an outage: nil),
    /// and held at `gate` on the first read when one is given.
    final class SwitchableSettings: GuildSettingsSource, @unchecked Sendable {
        let role = Locked<UInt64>(0), readable = Locked(true), reads = Locked(0)
        let gate: Gate?, held = Gate()
        init(role: UInt64, gate: Gate? = nil) {
            self.role.withLock { $0 = role }
            self.gate = gate
        }
        func settings(for guild: GuildID) async -> GuildSettings? {
            let role = role.value
            if reads.withLock({ $0 += 1; return $0 }) == 1, let gate {
                held.open()
                await gate.wait()
            }
            guard readable.value else { return nil }
            return GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(rewards: [.init(level: 1, role: role)], stack: true, announcementChannel: nil))
        }
    }

    /// Settings that cannot be read (SQL away) are not "no rewards": the level-up gives no role,
    /// stays waiting in Redis, and is carried out once they can be read.
    @Test(.enabled(if: RedisTestServer.isConfigured))
    func aLevelUpWaitsWhileItsGuildsSettingsCannotBeRead() async throws {
        let redis = try RedisTestServer.client()
        let keys = StatsKeys(prefix: "kamii-test-\(UInt64.random(in: 0...UInt64.max))")
        let guild = GuildID(5 << 22)
        try await redis.send("HSET", keys.waitingLevelUps(in: guild), "77", "0:1")
        let backlog = LevelUpBacklog(redis: redis, keys: keys)
        let settings = SwitchableSettings(role: 900)
        settings.readable.withLock { $0 = false }
        let actions = RecordedRoles()
        let rewarder = LevelUpRewarder(settings: settings, actions: actions, backlog: backlog, retryDelay: .milliseconds(1))
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waiting: await rewarder.waitingLevelUps())
        #expect(actions.added.value.isEmpty && rewarder.totals.failures == 1)
        #expect(settings.reads.value == 1, "read once: the source spaces out its own reads")
        #expect(try await backlog.waiting().map(\.user) == [UserID(77)])

        settings.readable.withLock { $0 = true }
        await rewarder.run(AsyncStream<LevelUp> { $0.finish() }, joins: AsyncStream<MemberJoin> { $0.finish() }, waiting: await rewarder.waitingLevelUps())
        #expect(actions.added.value == [900])
        #expect(try await backlog.waiting().isEmpty)
        await redis.close()
    }

    /// A lane's batch asks for an unreadable guild's settings once, not once per join and level-up
    /// in it, and does not wait to ask again: while SQL is away no lane is held up.
    @Test func aBatchAsksForUnreadableSettingsOnce() async throws {
        let settings = SwitchableSettings(role: 900)
        settings.readable.withLock { $0 = false }
        let rewarder = LevelUpRewarder(settings: settings, actions: RecordedRoles(), retryDelay: .milliseconds(1))
        let guild = GuildID(5 << 22)
        await rewarder.handle((1...20).map { RewardWork.join(MemberJoin(guild: guild, user: UserID($0))) }
            + [.levelUp(LevelUp(guild: guild, user: UserID(7), from: 0, to: 1))])
        #expect(settings.reads.value == 1)
        #expect(rewarder.totals.failures == 1)
    }

    /// Rewards read before a settings change and answered after it are used once, not cached:
    /// the next level-up reads the new ones.
    @Test func rewardsReadAcrossAChangeAreNotKept() async throws {
        let gate = Gate()
        let settings = SwitchableSettings(role: 900, gate: gate)
        let actions = RecordedRoles()
        let rewarder = LevelUpRewarder(settings: settings, actions: actions)
        let guild = GuildID(5 << 22)
        async let first: Void = rewarder.handle(LevelUp(guild: guild, user: UserID(7), from: 0, to: 1))
        await settings.held.wait()
        settings.role.withLock { $0 = 901 }
        rewarder.settingsChanged(guild)
        gate.open()
        await first
        await rewarder.handle(LevelUp(guild: guild, user: UserID(8), from: 0, to: 1))
        #expect(actions.added.value == [900, 901])
        await rewarder.handle(LevelUp(guild: guild, user: UserID(9), from: 0, to: 1))
        #expect(settings.reads.value == 2, "the second read is kept")
    }

    /// An announcement sent again (its answer lost, or its level-up retried) carries the same nonce,
    /// which Discord enforces (`RESTClientSimulatorTests`): members are not pinged twice.
    @Test func anAnnouncementsNonceIsItsOwn() {
        let nonce = RESTLevelUpActions.nonce(of: "GG <@1>, you just reached level **5**!", in: ChannelID(700))
        #expect(nonce == RESTLevelUpActions.nonce(of: "GG <@1>, you just reached level **5**!", in: ChannelID(700)))
        #expect(nonce != RESTLevelUpActions.nonce(of: "GG <@1>, you just reached level **6**!", in: ChannelID(700)))
        #expect(nonce != RESTLevelUpActions.nonce(of: "GG <@1>, you just reached level **5**!", in: ChannelID(701)))
        #expect(nonce.count <= 25)
    }

    /// Discord refusing (a reward role above the bot's own) is counted and not retried: one
    /// request, no loop.
    @Test func aRefusedRewardIsCountedNotRetried() async throws {
        let (server, client) = try await Self.start()
        let (guild, member) = try Self.pick()
        let admin = guild.roles[guild.roles.count - 1]
        let rewards = LevelRewards(rewards: [.init(level: 1, role: admin.rawValue)], stack: true, announcementChannel: nil)
        let rewarder = LevelUpRewarder(
            settings: FixedGuildSettings(GuildSettings(xp: .defaults, karma: nil, levelRewards: rewards)), actions: RESTLevelUpActions(client: client),
            retryDelay: .milliseconds(10))
        let calls = server.record.rest.count
        await rewarder.run([LevelUp(guild: guild.id, user: member, from: 0, to: 1)].async)
        #expect(server.record.rest.dropFirst(calls).map(\.status) == [403])
        #expect(rewarder.totals.failures == 1 && rewarder.totals.rolesAdded == 0)
        try await server.stop()
    }

    /// One guild's level-ups stay in order while many guilds' run side by side on a few lanes (a
    /// backlog merges a member's level-ups, so levels may be skipped, never reordered); a guild with
    /// nothing configured costs no request.
    @Test func eachGuildKeepsItsOrderAcrossLanes() async throws {
        /// Records announcements, taking a varying time per call so lanes overtake each other.
        final class Announcements: LevelUpActions, @unchecked Sendable {
            let made = Locked<[(guild: UInt64, level: Int)]>([])
            let channels: [UInt64: UInt64]
            init(channels: [UInt64: UInt64]) { self.channels = channels }
            func addRole(_ role: RoleID, to user: UserID, in guild: GuildID) async throws(RESTError) {}
            func removeRole(_ role: RoleID, from user: UserID, in guild: GuildID) async throws(RESTError) {}
            func announce(_ members: [(user: UserID, level: Int)], in channel: ChannelID) async throws(RESTError) {
                try? await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
                made.withLock { made in for member in members { made.append((channels[channel.rawValue]!, member.level)) } }
            }
        }
        struct PerGuild: GuildSettingsSource {
            func settings(for guild: GuildID) async -> GuildSettings? {
                // Every other guild announces in a channel numbered after it.
                let announces = (guild.rawValue >> 22) % 2 == 0
                return GuildSettings(xp: .defaults, karma: nil, levelRewards: LevelRewards(
                    rewards: [], stack: true, announcementChannel: announces ? guild.rawValue + 1 : nil))
            }
        }
        let guilds = (1...12).map { GuildID(UInt64($0) << 22) }
        let actions = Announcements(channels: Dictionary(uniqueKeysWithValues: guilds.map { ($0.rawValue + 1, $0.rawValue) }))
        let rewarder = LevelUpRewarder(settings: PerGuild(), actions: actions, lanes: 3)
        let levelUps = (1...30).flatMap { level in guilds.map { LevelUp(guild: $0, user: UserID(7), from: level - 1, to: level) } }
        await rewarder.run(levelUps.async)

        let announcing = guilds.filter { ($0.rawValue >> 22) % 2 == 0 }
        for guild in guilds {
            let levels = actions.made.value.filter { $0.guild == guild.rawValue }.map(\.level)
            if announcing.contains(guild) {
                #expect(levels.last == 30 && zip(levels, levels.dropFirst()).allSatisfy { $0 < $1 }, "guild \(guild): \(levels)")
            } else {
                #expect(levels.isEmpty, "guild \(guild)")
            }
        }
        #expect(rewarder.totals.levelUps == 360 && rewarder.totals.failures == 0)
    }
}

extension Array where Element: Sendable {
    /// The elements as an async sequence that ends after the last.
    var async: AsyncStream<Element> {
        AsyncStream { continuation in
            for element in self { continuation.yield(element) }
            continuation.finish()
        }
    }
}
