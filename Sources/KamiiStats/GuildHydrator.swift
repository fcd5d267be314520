public import DiscordModels
public import KamiiStore

/// Where a guild's counters come from when Redis does not have them: the last checkpoint.
public protocol GuildHydrator: Sendable {
    /// Up to `limit` of the guild's members, in ascending user ID, after `after` (nil: the first):
    /// a guild of millions is read, and written to Redis, a page at a time.
    func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats]

    /// Loads worth running at once: more would only queue for the store's connections.
    var loadsAtOnce: Int { get }
}

extension GuildHydrator {
    public var loadsAtOnce: Int { .max }
}

/// The SQL store's `server_users`, as the checkpointer last wrote them.
public struct StoreHydrator: GuildHydrator {
    public let store: KamiiStore

    public init(store: KamiiStore) {
        self.store = store
    }

    public func members(of guild: GuildID, after: UserID?, limit: Int) async throws -> [ServerUserStats] {
        try await store.serverUsers(in: guild, after: after, limit: limit)
    }

    /// As many as the store's pool has connections.
    public var loadsAtOnce: Int { store.configuration.maxConnections }
}
