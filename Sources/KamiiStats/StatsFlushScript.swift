import KamiiRedis

/// The script that applies guilds' batches, each atomically and at most once.
///
/// KEYS are the guilds' members hashes, one per guild (each holds its guild's batch marker, field
/// `~batch`); every other key of a guild is built from its key prefix, which carries the guild's
/// hash tag (its members hash's slot). On Redis Cluster one call carries one guild; on a single
/// Redis, many, and in a transaction that ends in the ``commit`` the last KEY is the flush's
/// confirmation counter. ARGV: the batch id, whether a guild must have been loaded first (1 when a SQL store
/// can rehydrate it), the time now and the karma memory (ms), the time (ms) from which a remembered
/// privacy deletion concerns the call's changes (when its guilds' batches began recording, or the
/// earliest message in them if one was recorded late),
/// the call's mode (1: write each guild's position, 2: its guilds may hold replayed
/// messages, judged by the positions kept; 4: add the number of guilds that have the batch to the
/// counter; added together), then per guild: its key prefix; its changes, one argument packed
/// little-endian (``guildFormat``, `<di4i4d`: its cooldown in ms, its member count, its karma entry
/// count (bots and reactions), its karma pair cooldown in ms; then each member's changes in the
/// order of the user ids, `struct` format `<i4Bi4di4` (``memberFormat``): messages, flags (1: a
/// member event brought a profile, 2: replayed messages follow, 4: the member joined a guild with
/// level rewards, 8: an update there said they are not pending), the grant count, and the first
/// grant's message time in ms and XP (0 and 0 when none: one unpack for the usual member); then,
/// with flag 1, the profile `<bdbbb` (``profileFormat``): avatar, joined (ms; 0 not said), pending
/// and verified (-1 not said) and trust; then per further grant `<di4`; then, with flag 2, `<i4`
/// the count of replayed messages and `<d` the `s` of each)
/// — numbers unpacked in one call rather than converted one argument at a time, and one Lua string
/// per guild rather than one per member and number; with a position mode (1, 2 or both) the
/// session tag and `s` of the last dispatch whose message it counts (0 and 0: unknown), and
/// with mode 2 the session its replayed messages came in (0: none); then its members' user ids;
/// then per karma reaction its ledger week, `message:giver:emoji` (a clear: `message:*`, or
/// `message:*:` and the emoji keys it clears, comma-separated), the receiver
/// (empty for a removal or a clear) and when the bot received it (Unix ms; 0 for a removal) — or,
/// for a bot the guild's actors saw, 0, `bot`, its id and 0: kept in the guild's `bots` set, whose
/// members receive no karma.
///
/// A guild whose marker holds this batch id, or a later one of the same process, had it applied (a
/// retried flush, or a stale copy arriving late): nothing happens to it. The members hash's `~pos`
/// field keeps the session tag and the `s` of that session the guild's batches counted messages up
/// to, written by a call whose flush does not also save the shards' sessions in the same
/// transaction (a backlog in parts, Cluster, no sessions to save) — where it does, the saved
/// session is never behind the guild, and only if that ``commit`` is refused does it write the
/// positions instead. A replayed message (from a dispatch an earlier process may
/// have applied, ``GuildStatsBatch/replayedMessages``) of that session at or below that `s` is not
/// counted again, whichever session the batch ends in; `~pos` then moves to the batch's own
/// session (one position per guild: the older session's is forgotten), and never goes back within
/// a session. A grant is applied only if
/// the member's last XP is at least a cooldown (1 ms at least) older than the message, so a message
/// replayed after a restart never earns twice; a karma reaction counts only if the guild's ledger did not have it
/// already and its giver gave its receiver nothing within the pair cooldown before it (the pair's
/// last karma is kept as `karma-pair:<giver>:<receiver>` until its cooldown ends), a removal only if
/// the ledger had it. Per guild (per thousand members): one HMGET and one HSET of its
/// members hash (the marker and each member's ``MemberRecord``) and one ZADD per leaderboard that
/// changed — Redis's cost is mostly per call, and a flush of 5,000 changes holds one or two members
/// of most guilds. The members it was sent are marked for the checkpointer by the flush's
/// ``ChangeJournal`` entry, not here; only karma receivers outside them (known from the ledger)
/// go into the guild's dirty set.
///
/// A member whose deletion the guild's deletions hash remembers from that time on (or the whole
/// guild's) gets none of the batch's changes, nor do reactions they gave or got: those changes may
/// have been recorded before the deletion, which they must not undo (a flush held up longer than
/// ``PrivacyDeletion``'s settle). The hash is read only when the members hash's `~deleted` field,
/// read with the marker, says a deletion came that late.
///
/// A guild with no marker at all is one this Redis never saw, or lost (restarted empty, flushed):
/// when a store can rehydrate it, nothing is applied and the reply says so (-2), so its members'
/// totals are loaded from SQL before anything is added to them.
///
/// A member who joined (flag 4), or passed Membership Screening (flag 8 while their record says
/// pending), with a level above 0 is owed that level's rewards again: the join waits in the
/// guild's `joins` hash (user → the batch id) until the rewarder has carried it out — deleted
/// only while it holds that id, so not a later join's —, and the reply names
/// it among the level-ups with -1 as the level before. A newcomer's join (level 0) is neither kept
/// nor reported: they are owed nothing.
///
/// Replies, per guild in order: applied grants (-1 for a repeated batch, -2 for a guild to
/// rehydrate first), the number of level-ups and joins, then each one's user, level before (-1
/// for a join) and level;
/// or, for a guild whose keys are not what Kamii writes, -3, 0 and Redis's error (its batch is not
/// sent again: some of it may have been applied).
enum StatsFlushScript {
    /// Arguments before each guild's user ids: prefix, changes (its numbers and its members'
    /// changes); then, in a call with a position mode, ``positionArguments`` more: session tag, last `s`.
    static let guildHeaderArguments = 2
    static let positionArguments = 2
    /// In a call that reads positions, one more after those: the session the guild's replayed
    /// messages came in (``GuildStatsBatch/replayedSessionTag``; 0: none).
    static let replaySessionArguments = 1
    /// A call's modes (``script``'s ARGV[6], added together): it writes each guild's position; its
    /// guilds may hold replayed messages; its last KEY counts the guilds it confirms (``commit``).
    static let writesPositions = 1
    static let readsPositions = 2
    static let confirmsGuilds = 4
    /// A member's flags: a member event brought a profile; replayed messages follow the grants; the
    /// member joined a guild with level rewards (``MemberProfile/restoresRewards``); an update said
    /// they are not pending (``MemberProfile/endsScreening``).
    static let hasProfileFlag: UInt8 = 1
    static let hasReplayedFlag: UInt8 = 2
    static let restoresRewardsFlag: UInt8 = 4
    static let endsScreeningFlag: UInt8 = 8
    /// A member's fixed changes (messages, flags, grant count, first grant's time and XP) and, with
    /// ``hasProfileFlag``, the profile after them — apart, since each number `struct` unpacks costs
    /// Redis ≈ 190 instructions and most members of a flush bring no profile.
    static let memberFormat = "<i4Bi4di4"
    static let profileFormat = "<bdbbb"
    /// A guild's numbers at the head of its changes argument (`struct` format): cooldown (ms),
    /// member count, karma entry count, karma pair cooldown (ms).
    static let guildFormat = "<di4i4d"
    /// The bytes of one grant in a member's changes (`<di4`).
    static let grantSize = 12
    /// Arguments per karma reaction: ledger week, `message:giver:emoji`, receiver, when given.
    static let argumentsPerKarmaReaction = 4
    /// The `message:giver:emoji` of a karma entry that names a bot (its id in the receiver's place).
    static let botEntry = "bot"

    static let script = RedisScript(#"""
        -- The globals the loops read, as locals: a global is looked up by name at every read.
        local ARGV, KEYS, unpack, tonumber, string, math, struct, call = ARGV, KEYS, unpack, tonumber, string, math, struct, redis.call
        local function reach(l) return 5 * (l - 1) * l * (2 * l - 1) / 6 + 25 * l * (l - 1) + 100 * l end
        \#(batchJudgement)
        local mustBeLoaded = ARGV[2] == '1'
        local now, karmaMemory, week = tonumber(ARGV[3]), tonumber(ARGV[4]), \#(StatsKeys.karmaWeekMilliseconds)
        local since = tonumber(ARGV[5])
        local mode = tonumber(ARGV[6])
        local positionMode = mode % 4
        local writesPositions, readsPositions, confirms = positionMode % 2 == 1, positionMode >= 2, mode >= 4
        local memberFormat, profileFormat, grantFormat = '\#(memberFormat)', '\#(profileFormat)', '<di4'
        local format, legacy = '\#(MemberRecord.luaFormat)', '\#(MemberRecord.luaPattern)'
        local recordSize = \#(MemberRecord.storedSize)
        local byte, pack, unpackBytes = string.byte, struct.pack, struct.unpack
        -- The text form of earlier versions (written back binary). A record that cannot be read is
        -- not overwritten with zeros: its guild fails alone.
        local function readText(value, user)
            local s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 = string.match(value, legacy)
            if not s1 then error({err = 'KAMII-BROKEN unreadable member record of ' .. user .. ': ' .. value}) end
            return tonumber(s1) or 0, tonumber(s2) or 0, tonumber(s3) or 0, tonumber(s4) or 0, tonumber(s5) or -1, tonumber(s6) or 0,
                tonumber(s7) or -1, tonumber(s8) or -1, tonumber(s9) or -1, tonumber(s10) or -1, tonumber(s11) or -1
        end
        -- A binary record whose numbers are not finite (edited by hand, corrupted) is refused like an
        -- unreadable one: its guild fails alone instead of every flush failing on it. (Checked as
        -- x - x + y - y + z - z ~= 0: x - x is 0 for every finite x, NaN for NaN and ±inf.)
        local function notFinite(user)
            error({err = 'KAMII-BROKEN member record of ' .. user .. ' holds a number that is not finite'})
        end
        -- A member's record (none yet: zeros, -1 for what is unknown). The member loop of
        -- applyGuild reads it inline.
        local function readRecord(value, user)
            if not value then return 0, 0, 0, 0, -1, 0, -1, -1, -1, -1, -1 end
            if #value == recordSize and byte(value, 1) == 1 then
                local _, xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = unpackBytes(format, value)
                if xp - xp + lastXP - lastXP + joined - joined ~= 0 then notFinite(user) end
                return xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified
            end
            return readText(value, user)
        end
        -- A whole number as Redis reads one: Redis may write a Lua number it is handed in exponent form.
        local function digits(number) return string.format('%.0f', number) end

        local function clampKarma(total)
            if total > 2147483647 then return 2147483647 elseif total < -2147483648 then return -2147483648 end
            return total
        end

        \#(karmaFromLedger)

        -- Karma for receivers who are not among the batch's members (their karma came from the ledger).
        local function applyKarmaOnly(membersKey, prefix, changes)
            local users, amounts = {}, {}
            for user, change in pairs(changes) do
                if change ~= 0 then users[#users + 1] = user; amounts[#users] = change end
            end
            for from = 1, #users, 1000 do
                local to = math.min(from + 999, #users)
                local stored = call('HMGET', membersKey, unpack(users, from, to))
                local records, scores = {}, {}
                for m = from, to do
                    local user = users[m]
                    local xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified = readRecord(stored[m - from + 1], user)
                    total = clampKarma(total + amounts[m])
                    records[#records + 1] = user
                    records[#records + 1] = pack(format, 1, xp, level, msgs, xpMessages, lastXP, total, trust, avatar, joined, pending, verified)
                    scores[#scores + 1] = total
                    scores[#scores + 1] = user
                end
                call('HSET', membersKey, unpack(records))
                call('SADD', prefix .. 'dirty', unpack(users, from, to))
                call('ZADD', prefix .. 'lb:karma', unpack(scores))
            end
        end

        -- Who the guild's deletions hash remembers as deleted at or after `since`: a table of user →
        -- true or false, '*' for the whole guild. The batch's members are read together (a thousand
        -- per HMGET); anyone else asked for (a reaction's giver or receiver) is read when first asked.
        local function deletedSince(prefix, first, members)
            local deletions = prefix .. 'deleted'
            -- A time Kamii did not write (not a number) counts as late, as the checkpointer takes it.
            local function isLate(at) return at ~= false and at ~= nil and (tonumber(at) or math.huge) >= since end
            local deleted = setmetatable({}, {__index = function(known, user)
                local late = isLate(call('HGET', deletions, user))
                rawset(known, user, late)
                return late
            end})
            for from = 1, members, 1000 do
                local to = math.min(from + 999, members)
                local at = call('HMGET', deletions, unpack(ARGV, first + from - 1, first + to - 1))
                for m = from, to do rawset(deleted, ARGV[first + m - 1], isLate(at[m - from + 1])) end
            end
            return deleted
        end

        \#(applyGuildFunction)

        local reply, replyCount = {}, 0
        local i = 7
        local headerSize = \#(guildHeaderArguments) + (positionMode == 0 and 0 or \#(positionArguments)) + (readsPositions and \#(replaySessionArguments) or 0)
        local guilds = confirms and #KEYS - 1 or #KEYS
        -- Guilds that have this batch (applied now, before, or failed alone: counted as applied),
        -- for the commit at the end of the transaction.
        local confirmed = 0
        for g = 1, guilds do
            local prefix, changes = ARGV[i], ARGV[i + 1]
            local cooldown, members, reactions, pairCooldown, position = unpackBytes('\#(guildFormat)', changes)
            cooldown = math.max(cooldown, 1)
            local sessionTag, lastSequence, replayTag = '0', '0', '0'
            if positionMode ~= 0 then sessionTag, lastSequence = ARGV[i + 2], ARGV[i + 3] end
            if readsPositions then replayTag = ARGV[i + 4] end
            -- The next guild's arguments are found before this one runs, so a guild that fails
            -- cannot put them out of step.
            local first = i + headerSize
            i = first + members + \#(argumentsPerKarmaReaction) * reactions
            -- A guild whose keys are not what Kamii writes (WRONGTYPE: a key set by hand, another
            -- program under the same prefix; a member record that cannot be read) fails alone: its
            -- batch counts as applied — some of its writes may be done, so sending it again could
            -- count them twice — and the reply says why; every other guild goes on.
            local ok, grantsApplied, ups, unloaded, skip = pcall(applyGuild, KEYS[g], prefix, cooldown, first, members, reactions, pairCooldown, sessionTag, lastSequence, replayTag, changes, position)
            if not ok then
                local failure = grantsApplied
                local message = type(failure) == 'table' and (failure.err or 'error') or tostring(failure)
                -- Anything else (OOM, READONLY, MISCONF: refused at the script's first write, before
                -- anything was written) fails the whole call, and the flush is sent again.
                if string.sub(message, 1, 9) ~= 'WRONGTYPE' and string.sub(message, 1, 12) ~= 'KAMII-BROKEN' then error(failure) end
                reply[replyCount + 1], reply[replyCount + 2], reply[replyCount + 3] = -3, 0, message
                replyCount = replyCount + 3
                confirmed = confirmed + 1
            else
                if not unloaded then confirmed = confirmed + 1 end
                reply[replyCount + 1] = unloaded and -2 or (skip and -1 or grantsApplied)
                reply[replyCount + 2] = #ups / 3
                replyCount = replyCount + 2
                for k = 1, #ups do reply[replyCount + k] = ups[k] end
                replyCount = replyCount + #ups
            end
        end
        -- A count Redis refuses (out of memory, a replica) refuses the commit, not the call: its
        -- guilds' replies stand (a retry whose guilds all had the batch writes nothing else).
        if confirms and confirmed > 0 then redis.pcall('INCRBY', KEYS[#KEYS], confirmed) end
        return reply
        """#)
}
