public import DiscordModels
public import KamiiRedis

/// One reaction the karma ledger remembers: who reacted to which message, with which emoji (its
/// key), and whom it gave karma.
public struct KarmaLedgerEntry: Sendable, Equatable, Codable {
    public var guild: UInt64
    public var message: UInt64
    public var giver: UInt64
    public var emojiKey: UInt32
    public var receiver: UInt64

    public init(guild: UInt64, message: UInt64, giver: UInt64, emojiKey: UInt32, receiver: UInt64) {
        self.guild = guild
        self.message = message
        self.giver = giver
        self.emojiKey = emojiKey
        self.receiver = receiver
    }
}

/// The karma ledger's privacy side: what it holds of a guild or a user (for an export — the rest of a
/// member's stats reach SQL with each checkpoint, the ledger, `<prefix>:{g}:karma:<week>`, does
/// not), and forgetting a user. The flush script writes it.
public struct KarmaLedger: Sendable {
    public let redis: RedisClient
    public let keys: StatsKeys

    public init(redis: RedisClient, keys: StatsKeys = StatsKeys()) {
        self.redis = redis
        self.keys = keys
    }

    /// Every entry of the guild's ledger.
    public func entries(of guild: GuildID) async throws -> [KarmaLedgerEntry] {
        try await entries(among: redis.keys(matching: keys.karmaLedgers(in: guild)))
    }

    /// Every entry of the ledgers among `scanned` (keys a walk of the keyspace found, e.g.
    /// ``StatsKeys/karmaKeys(in:)``; any others are passed over).
    public func entries(among scanned: [String]) async throws -> [KarmaLedgerEntry] {
        try await entries(in: scanned.filter { keys.karmaIndex(ofLedger: $0) != nil }, naming: nil)
    }

    /// Every entry, in every guild, where the user reacted or received the karma.
    public func entries(of user: UserID) async throws -> [KarmaLedgerEntry] {
        try await entries(of: user, among: redis.keys(matching: keys.everyKarmaLedger))
    }

    /// ``entries(of:)-(UserID)`` in the ledgers among `scanned` (keys a walk of the keyspace found,
    /// ``StatsKeys/everyMembersOrKarmaKey``; any others are passed over).
    public func entries(of user: UserID, among scanned: [String]) async throws -> [KarmaLedgerEntry] {
        try await entries(in: scanned.filter { keys.karmaIndex(ofLedger: $0) != nil }, naming: user)
    }

    /// Deletes every entry, in every guild, where the user reacted or received the karma, from the
    /// ledgers and indexes among `scanned` (keys a walk of the keyspace found,
    /// ``StatsKeys/everyMembersOrKarmaKey``; any others are passed over); returns the guilds that had one.
    @discardableResult
    public func forget(_ user: UserID, among scanned: [String]) async throws -> Set<GuildID> {
        // The indexes too, even one whose ledger is gone (evicted, emptied): their entries name
        // givers.
        var ledgers = Set<String>()
        for key in scanned {
            if let ledger = keys.karmaLedger(ofIndex: key) {
                ledgers.insert(ledger)
            } else if keys.karmaIndex(ofLedger: key) != nil {
                ledgers.insert(key)
            }
        }
        let replies = try await run(.delete, in: ledgers.sorted(), naming: user)
        return Set(replies.compactMap { ledger, removed in (removed.int ?? 0) > 0 ? keys.guild(ofKey: ledger) : nil })
    }

    private func entries(in ledgers: [String], naming user: UserID?) async throws -> [KarmaLedgerEntry] {
        var found: [KarmaLedgerEntry] = []
        for (ledger, reply) in try await run(.list, in: ledgers, naming: user) {
            guard let guild = keys.guild(ofKey: ledger) else { continue }
            let values = reply.array ?? []
            for index in stride(from: 0, to: values.count - 1, by: 2) {
                let reaction = values[index].string?.split(separator: ":") ?? []
                guard reaction.count == 3, let message = UInt64(reaction[0]), let giver = UInt64(reaction[1]),
                      let emoji = UInt32(reaction[2]), let receiver = values[index + 1].string.flatMap(UInt64.init)
                else { continue }
                found.append(KarmaLedgerEntry(guild: guild.rawValue, message: message, giver: giver, emojiKey: emoji, receiver: receiver))
            }
        }
        return found.sorted { ($0.guild, $0.message, $0.giver) < ($1.guild, $1.message, $1.giver) }
    }

    private enum Action: String { case list, delete }

    /// Runs ``entriesNaming`` on every ledger, 2,000 to a round trip; the replies in order.
    private func run(_ action: Action, in ledgers: [String], naming user: UserID?) async throws -> [(String, RedisValue)] {
        var replies: [(String, RedisValue)] = []
        for first in stride(from: 0, to: ledgers.count, by: 2_000) {
            let part = ledgers[first..<min(first + 2_000, ledgers.count)]
            let calls = part.map { ledger in
                // The index's key shares the ledger's hash tag; an unexpected name (none) just has none.
                (keys: [ledger, keys.karmaIndex(ofLedger: ledger) ?? ledger + ":no-index"], arguments: [user.map { String($0.rawValue) } ?? "", action.rawValue])
            }
            for (ledger, reply) in zip(part, try await redis.evaluateEach(Self.entriesNaming, calls)) { replies.append((ledger, try reply.orThrow())) }
        }
        return replies
    }

    /// A ledger's (KEYS[1]) entries where ARGV[1] is the giver or the receiver (all of them when
    /// ARGV[1] is empty): ARGV[2] `list` returns them (field, value, …), `delete` deletes them, from
    /// its index (KEYS[2]) too, with any entry the index still holds of ARGV[1] as giver, and
    /// returns how many the ledger had. (A page of HSCAN or ZSCAN at a time; deleting what a page
    /// returned is safe for the scan.)
    private static let entriesNaming = RedisScript(#"""
        local user, deleting, found, removed, cursor = ARGV[1], ARGV[2] == 'delete', {}, 0, '0'
        repeat
            local page = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 1000)
            cursor = page[1]
            local entries = page[2]
            for k = 1, #entries, 2 do
                if user == '' or entries[k + 1] == user or string.match(entries[k], '^%d+:(%d+):') == user then
                    if deleting then
                        removed = removed + redis.call('HDEL', KEYS[1], entries[k])
                        redis.call('ZREM', KEYS[2], entries[k])
                    else
                        found[#found + 1] = entries[k]
                        found[#found + 1] = entries[k + 1]
                    end
                end
            end
        until cursor == '0'
        if not deleting then return found end
        if user ~= '' then
            repeat
                local page = redis.call('ZSCAN', KEYS[2], cursor, 'MATCH', '*:' .. user .. ':*', 'COUNT', 1000)
                cursor = page[1]
                for k = 1, #page[2], 2 do redis.call('ZREM', KEYS[2], page[2][k]) end
            until cursor == '0'
        end
        return removed
        """#)
}
