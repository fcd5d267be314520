public import DiscordModels
public import KamiiStore

/// Where a guild's counters come from when Redis does not have them: the last checkpoint.
public protocol GuildHydrator: Sendable {
    func members(of guild: GuildID) async throws -> [ServerUserStats]
}

/// The SQL store's `server_users`, as the checkpointer last wrote them.
public struct StoreHydrator: GuildHydrator {
    public let store: KamiiStore

    public init(store: KamiiStore) {
        self.store = store
    }

    public func members(of guild: GuildID) async throws -> [ServerUserStats] {
        try await store.serverUsers(in: guild)
    }
}
