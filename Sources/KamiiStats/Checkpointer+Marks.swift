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

    /// Moves `set` into `set:checkpointing` (adding to what a failed checkpoint left there), reading
    /// nothing of it; returns the twin's name. A guild's dirty set is walked from there a step at a
    /// time (``eachStep(of:_:)``): it is most often a few karma receivers, but while the change
    /// journal refuses entries every member a flush changed is marked in it.
    func moveMarks(_ set: String) async throws -> String {
        let twin = set + ":checkpointing"
        _ = try await redis.evaluate(Self.moveScript, keys: [set, twin], arguments: []).orThrow()
        return twin
    }

    /// Hands `body` the IDs among each step's marks of `twin`, then removes the step's marks —
    /// only those (not a DEL: another process's take may have merged marks of its own into the
    /// twin since, not copied yet), and with them anything that is not an ID (not Kamii's, never
    /// copyable: bytes that are not UTF-8 too), so the twin still empties. A step `body` fails keeps
    /// its marks, and the walk ends there. A mark may come twice (SSCAN's promise is at least once
    /// for what stays in the set throughout): copied twice, harmlessly.
    func eachStep(of twin: String, _ body: ([UserID]) async throws -> Void) async throws {
        var cursor = "0"
        repeat {
            progress.note()
            let reply = try await redis.send("SSCAN", twin, cursor, "COUNT", String(dirtyMarksPerStep)).orThrow().array
            guard let reply, reply.count == 2, let next = reply[0].string, let marks = reply[1].array?.compactMap(\.bytes) else {
                throw RedisError.protocolViolation("SSCAN answered \(String(describing: reply))")
            }
            cursor = next
            guard !marks.isEmpty else { continue }
            try await body(marks.compactMap(Self.userID(mark:)))
            var release = RedisPipeline()
            for start in stride(from: 0, to: marks.count, by: 1_000) {
                let part = marks[start..<min(start + 1_000, marks.count)]
                release.beginCommand(arguments: 2 + part.count)
                release.appendArgument("SREM")
                release.appendArgument(twin)
                for mark in part { release.appendArgument(bytes: mark) }
            }
            for reply in try await redis.execute(release) { _ = try reply.orThrow() }
        } while cursor != "0"
    }

    /// The user a mark names: decimal digits of a 64-bit ID, nothing else.
    private static func userID(mark: [UInt8]) -> UserID? {
        guard !mark.isEmpty, mark.count <= 20, mark.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return nil }
        return UInt64(String(decoding: mark, as: UTF8.self)).map(UserID.init)
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

    private static let moveScript = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 1 then
            -- A key Kamii did not write stays where it is, and the guild is reported broken (moved,
            -- the flusher's next mark would make a fresh set beside it, and hide it).
            if redis.call('TYPE', KEYS[1]).ok ~= 'set' then
                return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
            end
            if redis.call('EXISTS', KEYS[2]) == 1 then
                redis.call('SUNIONSTORE', KEYS[2], KEYS[2], KEYS[1])
                redis.call('DEL', KEYS[1])
            else
                redis.call('RENAME', KEYS[1], KEYS[2])
            end
        end
        return 0
        """)

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
