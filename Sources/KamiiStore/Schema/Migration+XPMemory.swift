extension Migration {
    /// Version 2: what a guild rehydrated from SQL needs to go on exactly where Redis left it — the
    /// messages that earned XP (`xp_messages`) and the last XP time (`last_xp_at`, Unix ms; the XP
    /// cooldown is judged against it, so a message replayed after Redis was lost cannot earn twice).
    static let xpMemory = Migration(version: 2, name: "server_users xp messages and last xp") { _ in
        [
            "ALTER TABLE server_users ADD COLUMN xp_messages BIGINT NOT NULL DEFAULT 0",
            "ALTER TABLE server_users ADD COLUMN last_xp_at BIGINT",
        ]
    }
}
