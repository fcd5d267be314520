/// One versioned step of the schema. Its statements run in one transaction together with the
/// row that records it, so a migration is applied completely or not at all.
struct Migration: Sendable {
    let version: Int
    let name: String
    /// The statements for a dialect; most are the same on both engines.
    let statements: @Sendable (KamiiStore.Dialect) -> [String]
}

extension Migration {
    /// Every migration this binary knows, oldest first. Append; never edit a released one.
    static let all: [Migration] = [.initialSchema, .xpMemory, .configChanges, .rowVersions, .memberProfiles]
}
