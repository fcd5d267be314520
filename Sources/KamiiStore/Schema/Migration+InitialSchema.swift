extension Migration {
    /// Version 1: the tables of `docs/ARCHITECTURE.md` ("Storage"). IDs are BIGINT (snowflakes fit
    /// in the signed range), times are BIGINT Unix milliseconds, flags are SMALLINT 0/1 — the same
    /// representation on both engines.
    static let initialSchema = Migration(version: 1, name: "initial schema") { dialect in
        let autoincrementID = dialect == .sqlite
            ? "id INTEGER PRIMARY KEY AUTOINCREMENT"
            : "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
        return [
            """
            CREATE TABLE guild_config (
                guild_id BIGINT PRIMARY KEY,
                settings TEXT NOT NULL,
                revision BIGINT NOT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE message_templates (
                guild_id BIGINT NOT NULL REFERENCES guild_config (guild_id) ON DELETE CASCADE,
                kind TEXT NOT NULL,
                content TEXT NOT NULL,
                embed TEXT,
                updated_by BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (guild_id, kind)
            )
            """,
            """
            CREATE TABLE server_users (
                guild_id BIGINT NOT NULL REFERENCES guild_config (guild_id) ON DELETE CASCADE,
                user_id BIGINT NOT NULL,
                xp BIGINT NOT NULL,
                level INTEGER NOT NULL,
                karma BIGINT NOT NULL,
                trust INTEGER NOT NULL,
                message_count BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (guild_id, user_id)
            )
            """,
            "CREATE INDEX server_users_by_xp ON server_users (guild_id, xp DESC, user_id)",
            "CREATE INDEX server_users_by_karma ON server_users (guild_id, karma DESC, user_id)",
            "CREATE INDEX server_users_by_user ON server_users (user_id)",
            """
            CREATE TABLE guild_counters (
                guild_id BIGINT NOT NULL REFERENCES guild_config (guild_id) ON DELETE CASCADE,
                counter TEXT NOT NULL,
                value BIGINT NOT NULL,
                PRIMARY KEY (guild_id, counter)
            )
            """,
            """
            CREATE TABLE punishments (
                guild_id BIGINT NOT NULL REFERENCES guild_config (guild_id) ON DELETE CASCADE,
                case_id BIGINT NOT NULL,
                user_id BIGINT NOT NULL,
                moderator_id BIGINT NOT NULL,
                kind TEXT NOT NULL,
                reason TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                expires_at BIGINT,
                active SMALLINT NOT NULL,
                revoked_by BIGINT,
                revoked_at BIGINT,
                revoke_reason TEXT,
                PRIMARY KEY (guild_id, case_id)
            )
            """,
            "CREATE INDEX punishments_by_user ON punishments (guild_id, user_id, case_id)",
            "CREATE INDEX punishments_by_expiry ON punishments (active, expires_at)",
            "CREATE INDEX punishments_by_subject ON punishments (user_id)",
            "CREATE INDEX punishments_by_moderator ON punishments (moderator_id)",
            """
            CREATE TABLE punishment_reason_history (
                guild_id BIGINT NOT NULL,
                case_id BIGINT NOT NULL,
                revision INTEGER NOT NULL,
                reason TEXT NOT NULL,
                replaced_by BIGINT NOT NULL,
                replaced_at BIGINT NOT NULL,
                PRIMARY KEY (guild_id, case_id, revision),
                FOREIGN KEY (guild_id, case_id) REFERENCES punishments (guild_id, case_id) ON DELETE CASCADE
            )
            """,
            """
            CREATE TABLE tickets (
                guild_id BIGINT NOT NULL REFERENCES guild_config (guild_id) ON DELETE CASCADE,
                ticket_number BIGINT NOT NULL,
                opener_id BIGINT NOT NULL,
                channel_id BIGINT,
                status TEXT NOT NULL,
                reason TEXT,
                claimed_by BIGINT,
                closed_by BIGINT,
                close_reason TEXT,
                created_at BIGINT NOT NULL,
                closed_at BIGINT,
                PRIMARY KEY (guild_id, ticket_number)
            )
            """,
            "CREATE INDEX tickets_by_opener ON tickets (opener_id)",
            """
            CREATE TABLE panel_audit (
                \(autoincrementID),
                guild_id BIGINT NOT NULL,
                actor_id BIGINT NOT NULL,
                action TEXT NOT NULL,
                before_value TEXT,
                after_value TEXT,
                at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX panel_audit_by_guild ON panel_audit (guild_id, id)",
            "CREATE INDEX panel_audit_by_actor ON panel_audit (actor_id)",
        ]
    }
}
