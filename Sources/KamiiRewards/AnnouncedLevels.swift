import KamiiStats

/// Level-ups announced whose roles are still to be given (a call that may pass later, so the
/// level-up waits for a retry): the retry gives the roles, not the announcement again — its text
/// would differ from the first one's (other members beside it), so Discord's nonce would not catch
/// the repeat, and the member would be pinged again at every retry while the failure lasts. Kept
/// in this process, up to ``limit`` members: after a restart such a level-up may be announced once more.
struct AnnouncedLevels {
    static let limit = 100_000
    /// The level announced, per (guild, user).
    private var levels: [[UInt64]: Int] = [:]

    var count: Int { levels.count }

    /// Whether the level-up's level was announced already.
    func covers(_ levelUp: LevelUp) -> Bool {
        (levels[Self.key(levelUp)] ?? -1) >= levelUp.level
    }

    /// The level-up was announced and waits for its roles. At the limit everything noted is
    /// forgotten first (a retry may then announce one of those again) rather than nothing new
    /// being noted for the rest of the process's life.
    mutating func note(_ levelUp: LevelUp) {
        let key = Self.key(levelUp)
        if levels[key] == nil, levels.count >= Self.limit { levels.removeAll() }
        levels[key] = max(levels[key] ?? -1, levelUp.level)
    }

    /// The level-up is over: nothing of it waits.
    mutating func forget(_ levelUp: LevelUp) {
        let key = Self.key(levelUp)
        if let level = levels[key], level <= levelUp.level { levels[key] = nil }
    }

    private static func key(_ levelUp: LevelUp) -> [UInt64] { [levelUp.guild.rawValue, levelUp.user.rawValue] }
}
