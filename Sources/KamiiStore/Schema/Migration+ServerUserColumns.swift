extension Migration {
    /// Version 4: `server_users.as_of`, the time (Redis's clock, Unix ms) of the Redis read a row
    /// was written from. A checkpoint replaces a row only with a read no older than the one it holds,
    /// so two checkpointers (one per process of a cluster) cannot put back values the other replaced.
    /// Rows written before carry 0: any read replaces them.
    static let rowVersions = Migration(version: 4, name: "server_users read time") { _ in
        ["ALTER TABLE server_users ADD COLUMN as_of BIGINT NOT NULL DEFAULT 0"]
    }
}

extension Migration {
    /// Version 5: the member's profile (`has_avatar`, `joined_at`, `pending`, `verified`; NULL where
    /// no member event was seen), which the trust factor is judged on: a guild loaded back from SQL
    /// is judged as before, rather than on less (or not again at all). Rows written before carry NULL.
    static let memberProfiles = Migration(version: 5, name: "server_users member profile") { _ in
        [
            "ALTER TABLE server_users ADD COLUMN has_avatar SMALLINT",
            "ALTER TABLE server_users ADD COLUMN joined_at BIGINT",
            "ALTER TABLE server_users ADD COLUMN pending SMALLINT",
            "ALTER TABLE server_users ADD COLUMN verified SMALLINT",
        ]
    }
}
