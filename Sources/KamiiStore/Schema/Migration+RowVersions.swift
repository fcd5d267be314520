extension Migration {
    /// Version 4: `server_users.as_of`, the time (Redis's clock, Unix ms) of the Redis read a row
    /// was written from. A checkpoint replaces a row only with a read no older than the one it holds,
    /// so two checkpointers (one per process of a cluster) cannot put back values the other replaced.
    /// Rows written before carry 0: any read replaces them.
    static let rowVersions = Migration(version: 4, name: "server_users read time") { _ in
        ["ALTER TABLE server_users ADD COLUMN as_of BIGINT NOT NULL DEFAULT 0"]
    }
}
