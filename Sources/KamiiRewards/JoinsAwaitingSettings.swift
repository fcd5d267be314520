/// Returning members of guilds whose stored configuration this binary refuses
/// (`GuildSettings.refused`): which rewards they are owed is not known until an admin saves a valid
/// one, however long that takes, so they are not retried on a timer (each look would read the
/// settings again for nothing) but held until the guild's settings change. Bounded per guild and in
/// all, apart from the joins held for a retry: a guild refused for days while members come back
/// fills its own share, never crowds out other guilds' retries.
struct JoinsAwaitingSettings {
    /// Members held per guild at most.
    let perGuild: Int
    /// Members held in all at most.
    let limit: Int
    private var held: [UInt64: Set<UInt64>] = [:]
    private(set) var count = 0

    init(perGuild: Int = 10_000, limit: Int = 100_000) {
        precondition(perGuild > 0 && limit >= perGuild, "bounds must be positive, the total no less than a guild's")
        self.perGuild = perGuild
        self.limit = limit
    }

    /// Holds `user` of `guild` (once however often they come back); false when a bound is reached,
    /// and the join is given up.
    mutating func hold(_ user: UInt64, in guild: UInt64) -> Bool {
        if held[guild]?.contains(user) == true { return true }
        guard count < limit, count(in: guild) < perGuild else { return false }
        held[guild, default: []].insert(user)
        count += 1
        return true
    }

    /// Members held in `guild`.
    func count(in guild: UInt64) -> Int { held[guild]?.count ?? 0 }

    /// Whether `user` of `guild` is held.
    func holds(_ user: UInt64, in guild: UInt64) -> Bool { held[guild]?.contains(user) == true }

    /// The members held in `guild`, in order, no longer held.
    mutating func release(_ guild: UInt64) -> [UInt64] {
        guard let users = held.removeValue(forKey: guild) else { return [] }
        count -= users.count
        return users.sorted()
    }
}
