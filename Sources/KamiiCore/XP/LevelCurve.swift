/// MEE6's level curve: going from level `l` to `l + 1` takes `5l² + 50l + 100` XP.
public enum LevelCurve {
    /// The highest level Kamii computes (about 1.69 × 10⁹ XP in all), far beyond any real member.
    public static let maximumLevel = 1_000

    /// XP needed to go from `level` to `level + 1`.
    public static func xpToAdvance(from level: Int) -> Int64 {
        let l = Int64(level)
        return 5 * l * l + 50 * l + 100
    }

    /// Total XP at which `level` is reached.
    public static func totalXP(toReach level: Int) -> Int64 {
        // Σ_{k<l} (5k² + 50k + 100) = 5(l-1)l(2l-1)/6 + 25l(l-1) + 100l
        let l = Int64(level)
        return 5 * (l - 1) * l * (2 * l - 1) / 6 + 25 * l * (l - 1) + 100 * l
    }

    /// The level a member with `totalXP` has (a binary search over the closed form: exact, ten steps).
    public static func level(forTotalXP totalXP: Int64) -> Int {
        var low = 0
        var high = maximumLevel
        while low < high {
            let middle = (low + high + 1) / 2
            if Self.totalXP(toReach: middle) <= totalXP { low = middle } else { high = middle - 1 }
        }
        return low
    }
}
