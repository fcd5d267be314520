public import DiscordModels
public import KamiiCore
public import KamiiRedis

/// The level-ups flushes recorded and nobody has carried out yet (each guild's `levelups` hash,
/// written by the flush script with the XP that caused them), and likewise returning members'
/// joins (its `joins` hash). The rewarder reads them at start — what a crash or a restart left —
/// and marks each one done once carried out.
public struct LevelUpBacklog: Sendable {
    public let redis: RedisClient
    public let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys = StatsKeys()) {
        self.redis = redis
        self.keys = keys
    }

    /// Every level-up waiting, in every guild (a scan of the key space: for start-up).
    public func waiting() async throws -> [LevelUp] {
        try await waiting(in: guilds(withKeyEnding: "levelups"))
    }

    /// The level-ups waiting in these guilds (one pipelined round trip per thousand guilds).
    public func waiting(in guilds: [GuildID]) async throws -> [LevelUp] {
        try await entries(of: keys.waitingLevelUps(in:), in: guilds).compactMap { guild, user, value in
            let levels = value.split(separator: ":").compactMap { Int($0) }
            guard levels.count == 2 else { return nil }
            return LevelUp(guild: guild, user: user, from: levels[0], to: levels[1])
        }
    }

    /// The guilds that have a `<prefix>:{guild}:<ending>` key.
    private func guilds(withKeyEnding ending: String) async throws -> [GuildID] {
        try await redis.keys(matching: "\(keys.prefix):{*}:\(ending)").compactMap(keys.guild(ofKey:))
    }

    /// Every (user → value) entry of these guilds' hashes (`key` names each guild's): one
    /// pipelined round trip per thousand guilds; a field that is not a user ID is passed over.
    private func entries(of key: (GuildID) -> String, in guilds: [GuildID]) async throws -> [(GuildID, UserID, String)] {
        var found: [(GuildID, UserID, String)] = []
        for start in stride(from: 0, to: guilds.count, by: 1_000) {
            let part = guilds[start..<min(start + 1_000, guilds.count)]
            var pipeline = RedisPipeline()
            for guild in part { pipeline.append("HGETALL", key(guild)) }
            for (guild, reply) in zip(part, try await redis.execute(pipeline)) {
                let entries = try reply.orThrow().array ?? []
                for index in stride(from: 0, to: entries.count - 1, by: 2) {
                    guard let user = entries[index].string.flatMap(UInt64.init), let value = entries[index + 1].string else { continue }
                    found.append((guild, UserID(user), value))
                }
            }
        }
        return found
    }

    /// Whether a level-up of `user` waits in the guild.
    public func hasWaiting(_ user: UserID, in guild: GuildID) async throws -> Bool {
        try await redis.send("HEXISTS", keys.waitingLevelUps(in: guild), String(user.rawValue)).int == 1
    }

    /// Marks level-ups carried out. A member's entry goes when the level-up carried out covers it
    /// (from no later, to no earlier). When a flush merged newer levels into it meanwhile, what is
    /// left of it stays (from the level carried out to its end), so that the newer level-up, once
    /// carried out, covers it. An entry that begins earlier (an older level-up this run has not
    /// reached) stays whole.
    public func done(_ levelUps: [LevelUp]) async throws {
        var byGuild: [GuildID: [String]] = [:]
        for levelUp in levelUps {
            byGuild[levelUp.guild, default: []] += [String(levelUp.user.rawValue), String(levelUp.previousLevel), String(levelUp.level)]
        }
        for (guild, entries) in byGuild {
            _ = try await redis.evaluate(Self.doneScript, keys: [keys.waitingLevelUps(in: guild)], arguments: entries)
        }
    }

    private static let doneScript = RedisScript("""
        for k = 1, #ARGV, 3 do
            local waiting = redis.call('HGET', KEYS[1], ARGV[k])
            if waiting then
                local from, to = string.match(waiting, '^(%d+):(%d+)$')
                local doneFrom, doneTo = tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2])
                if from and tonumber(from) >= doneFrom then
                    if tonumber(to) <= doneTo then
                        redis.call('HDEL', KEYS[1], ARGV[k])
                    elseif doneTo > tonumber(from) then
                        redis.call('HSET', KEYS[1], ARGV[k], ARGV[k + 2] .. ':' .. to)
                    end
                end
            end
        end
        return 0
        """)

    /// Every returning member's join waiting, in every guild (a scan of the key space: for start-up).
    public func waitingJoins() async throws -> [MemberJoin] {
        try await waitingJoins(in: guilds(withKeyEnding: "joins"))
    }

    /// The joins waiting in these guilds (one pipelined round trip per thousand guilds).
    public func waitingJoins(in guilds: [GuildID]) async throws -> [MemberJoin] {
        try await entries(of: keys.waitingJoins(in:), in: guilds).map { MemberJoin(guild: $0, user: $1, mark: $2) }
    }

    /// Marks joins carried out (or owed nothing after all): each entry goes only while it still
    /// holds the join's ``MemberJoin/mark`` — a member who left and came back meanwhile has a newer
    /// one, which waits for its own turn. One script call per guild, pipelined.
    public func joinsDone(_ joins: [MemberJoin]) async throws {
        var byGuild: [GuildID: [String]] = [:]
        for join in joins { byGuild[join.guild, default: []] += [String(join.user.rawValue), join.mark ?? ""] }
        let calls = byGuild.map { (keys: [keys.waitingJoins(in: $0.key)], arguments: $0.value) }
        guard !calls.isEmpty else { return }
        for reply in try await redis.evaluateEach(Self.joinsDoneScript, calls) { _ = try reply.orThrow() }
    }

    /// KEYS: a guild's joins hash; ARGV: user, mark, … (an empty mark: whatever the entry holds).
    private static let joinsDoneScript = RedisScript("""
        for k = 1, #ARGV, 2 do
            if ARGV[k + 1] == '' or redis.call('HGET', KEYS[1], ARGV[k]) == ARGV[k + 1] then
                redis.call('HDEL', KEYS[1], ARGV[k])
            end
        end
        return 0
        """)
}
