extension Migration {
    /// Version 3: running bots look for configurations saved since their last look
    /// (`KamiiStore.guildConfigChanges`) every few seconds; an index on `updated_at` keeps that a
    /// short range read however many guilds there are.
    static let configChanges = Migration(version: 3, name: "guild_config updated_at index") { _ in
        ["CREATE INDEX guild_config_updated_at ON guild_config (updated_at)"]
    }
}
