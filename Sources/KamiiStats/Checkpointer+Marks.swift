import DiscordModels
import KamiiRedis

/// Taking a set of marks for a checkpoint (what it copies, and what stays if it fails), and
/// writing trust back into the records it copied.
extension Checkpointer {
    /// Moves `set` into `set:checkpointing` (adding to what a failed checkpoint left there) and
    /// returns everything in it that is an ID (decimal digits); anything else — not Kamii's, never
    /// copyable — is removed there, so that it cannot keep the set from ever emptying.
    func take(_ set: String) async throws -> [String] {
        let reply = try await redis.evaluate(Self.takeScript, keys: [set, set + ":checkpointing"], arguments: [])
        return (reply.array ?? []).compactMap(\.string)
    }

    /// Marks `users` of `guild` dirty again, for the next checkpoint: SQL kept rows of theirs from a
    /// later read, so theirs wait until Redis's clock passes it (or another read replaces them).
    func markAgain(_ users: [UserID], in guild: GuildID) async throws {
        guard !users.isEmpty else { return }
        var pipeline = RedisPipeline()
        pipeline.appendDirtyMarks(keys, [(guild.rawValue, users.map(\.rawValue))])
        for reply in try await redis.execute(pipeline) { _ = try reply.orThrow() }
    }

    /// Whether Redis remembers the guild's deletion at or after `since` (ms, Redis's clock).
    func guildDeleted(_ guild: GuildID, since: Int64) async throws -> Bool {
        let at = try await redis.send("HGET", keys.deletions(in: guild), StatsKeys.wholeGuild)
        // A time Kamii did not write counts as the latest, as everywhere deletions are judged.
        return at.string.map { (Int64($0) ?? .max) >= since } ?? false
    }

    private static let takeScript = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 then
            redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
            redis.call('DEL', KEYS[1])
        end
        local ids = {}
        for _, member in ipairs(redis.call('SMEMBERS', KEYS[2])) do
            if string.match(member, '^%d+$') then ids[#ids + 1] = member else redis.call('SREM', KEYS[2], member) end
        end
        return ids
        """)

    /// Sets the trust place of existing member records: KEYS[1] the members hash, KEYS[2] the
    /// guild's deletions; ARGV[1] the time of the checkpoint's read (ms, Redis's clock), then user
    /// and trust pairs. Returns two lists of the users whose deletion (or the guild's) is
    /// remembered at or after that time (a time Kamii did not write counts as the latest): purged
    /// since they were read, so the rows just written hold data deleted — those without a record,
    /// then those with one there again (the member posted after the deletion), which gets no trust
    /// worked out from the old. A record gone without a deletion was lost with Redis (perhaps
    /// reloaded from SQL since, without this checkpoint's members), and SQL is then all that is
    /// left of it.
    static let trustScript = RedisScript(#"""
        local format = '\#(MemberRecord.luaFormat)'
        local gone, there = {}, {}
        local since = tonumber(ARGV[1])
        local function deletedSince(field)
            local at = redis.call('HGET', KEYS[2], field)
            return at ~= false and (tonumber(at) or math.huge) >= since
        end
        -- Most guilds remember no deletion (the hash lasts a day): no look per member there.
        local anyDeleted = redis.call('EXISTS', KEYS[2]) == 1
        local guildDeleted = anyDeleted and deletedSince('\#(StatsKeys.wholeGuild)')
        for k = 2, #ARGV, 2 do
            local value = redis.call('HGET', KEYS[1], ARGV[k])
            if anyDeleted and (guildDeleted or deletedSince(ARGV[k])) then
                if value then there[#there + 1] = ARGV[k] else gone[#gone + 1] = ARGV[k] end
            elseif value and #value == \#(MemberRecord.storedSize) and string.byte(value, 1) == 1 then
                local s = {struct.unpack(format, value)}
                s[8] = tonumber(ARGV[k + 1])
                redis.call('HSET', KEYS[1], ARGV[k], struct.pack(format, unpack(s, 1, 12)))
            elseif value then
                -- The text form of earlier versions (the next flush makes it binary).
                local s = {string.match(value, '\#(MemberRecord.luaPattern)')}
                if #s == 11 then
                    s[7] = ARGV[k + 1]
                    redis.call('HSET', KEYS[1], ARGV[k], table.concat(s, ':'))
                end
            end
        end
        return {gone, there}
        """#)
}
