import DiscordModels
import Foundation
import Testing
@testable import KamiiStore

@Suite struct PrivacyTests {
    /// Two guilds with stats, cases, tickets, templates and audit rows; user 1 appears in both.
    static func populate(_ store: KamiiStore) async throws {
        for guild in [IDs.guild(1), IDs.guild(2)] {
            try await store.registerGuild(guild)
            var config = GuildConfig()
            config.modules.tickets = true
            try await store.putGuildConfig(config, for: guild, by: IDs.user(9))
            try await store.putTemplate(MessageTemplate(content: "Welcome {user}"), .welcome, for: guild, by: IDs.user(9))
            try await store.upsertServerUsers([1, 2].map {
                ServerUserStats(guild: guild, user: IDs.user($0), xp: 100, level: 1, karma: 2, trust: 60, messageCount: 5, updatedAt: IDs.time)
            })
            let warn = try await store.createCase(NewPunishment(guild: guild, user: IDs.user(1), moderator: IDs.user(9), kind: .warn, reason: "spam"))
            try await store.editReason(of: warn.caseID, in: guild, to: "spam in #general", by: IDs.user(9))
            _ = try await store.createCase(NewPunishment(guild: guild, user: IDs.user(2), moderator: IDs.user(1), kind: .note, reason: "noted by user 1"))
            _ = try await store.openTicket(in: guild, by: IDs.user(1), reason: "question")
            _ = try await store.openTicket(in: guild, by: IDs.user(2), reason: "other")
        }
    }

    @Test(arguments: TestEngine.available)
    func aGuildExportHoldsEverythingAndDeletionLeavesNothingOfIt(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            try await Self.populate(store)
            let export = try await store.exportGuild(IDs.guild(1))
            #expect(export.config?.modules.tickets == true)
            #expect(export.templates["welcome"] == MessageTemplate(content: "Welcome {user}"))
            #expect(export.serverUsers.count == 2)
            #expect(export.cases.count == 2)
            #expect(export.cases[0].reasonHistory.map(\.reason) == ["spam"])
            #expect(export.cases[0].punishment.reason == "spam in #general")
            #expect(export.tickets.count == 2)
            #expect(export.panelAudit.map(\.action) == ["config.update", "template.welcome"])
            #expect(export.counters == ["case": 2, "ticket": 2])
            let json = try JSONEncoder().encode(export)
            #expect(try JSONSerialization.jsonObject(with: json) is [String: Any])

            let report = try await store.deleteGuildData(IDs.guild(1))
            #expect(report == DeletionReport(serverUsers: 2, templates: 1, cases: 2, tickets: 2, panelAudit: 2, configs: 1))
            let empty = try await store.exportGuild(IDs.guild(1))
            #expect(empty.config == nil && empty.serverUsers.isEmpty && empty.cases.isEmpty && empty.tickets.isEmpty && empty.panelAudit.isEmpty && empty.templates.isEmpty)
            #expect(empty.counters.isEmpty)
            // The other guild is untouched, and a re-registered guild starts again from case 1.
            #expect(try await store.exportGuild(IDs.guild(2)).cases.count == 2)
            // A configuration this binary cannot read is handed over as it is stored.
            try await store.transaction { try await $0.raw("UPDATE guild_config SET settings = '{\"modules\": 7' WHERE guild_id = \(bind: IDs.guild(2).column)").run() }
            let unreadable = try await store.exportGuild(IDs.guild(2))
            #expect(unreadable.config == nil && unreadable.unreadableConfig == #"{"modules": 7"# && unreadable.configRevision != nil)
            try await store.registerGuild(IDs.guild(1))
            #expect(try await store.createCase(NewPunishment(guild: IDs.guild(1), user: IDs.user(5), moderator: IDs.user(9), kind: .warn, reason: "")).caseID == 1)
        }
    }

    @Test(arguments: TestEngine.available)
    func aUserExportHoldsTheirDataAndDeletionKeepsOnlyModerationRecords(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            try await Self.populate(store)
            let export = try await store.exportUser(IDs.user(1))
            #expect(export.serverUsers.map(\.guild) == [IDs.guild(1), IDs.guild(2)])
            #expect(export.casesAbout.count == 2)
            #expect(export.casesAbout.map { $0.reasonHistory.map(\.reason) } == [["spam"], ["spam"]])
            #expect(export.casesAsModerator.map(\.reason) == ["noted by user 1", "noted by user 1"])
            #expect(export.ticketsOpened.count == 2)
            #expect(export.ticketsHandled.isEmpty && export.reasonEdits.isEmpty && export.templatesEdited.isEmpty)
            #expect(export.panelChanges.isEmpty)
            let staff = try await store.exportUser(IDs.user(9))
            #expect(staff.panelChanges.count == 4)
            #expect(staff.reasonEdits.map(\.reason) == ["spam", "spam"])
            #expect(staff.templatesEdited.map(\.kind) == ["welcome", "welcome"])
            // A template of a kind this build does not know (a later build's) names the user too.
            try await store.transaction { database in
                try await database.raw("""
                    INSERT INTO message_templates (guild_id, kind, content, updated_by, updated_at)
                    VALUES (\(bind: IDs.guild(1).column), 'farewell-v2', 'Bye', \(bind: IDs.user(9).column), 0)
                    """).run()
            }
            #expect(try await store.exportUser(IDs.user(9)).templatesEdited.map(\.kind) == ["farewell-v2", "welcome", "welcome"])

            let report = try await store.deleteUserData(IDs.user(1))
            #expect(report.serverUsers == 2 && report.tickets == 2 && report.casesKept == 2)
            let after = try await store.exportUser(IDs.user(1))
            #expect(after.serverUsers.isEmpty && after.ticketsOpened.isEmpty)
            #expect(after.casesAbout.count == 2)
            // Other members keep everything.
            #expect(try await store.serverUser(IDs.user(2), in: IDs.guild(1)) != nil)
            #expect(try await store.tickets(in: IDs.guild(1), status: .open).map(\.opener) == [IDs.user(2)])
        }
    }

    /// A guild deletion that meets an edit in flight — the guild's row held, its audit row written
    /// and not yet committed — leaves none of the edit's audit behind once both are done.
    @Test(arguments: TestEngine.available)
    func aGuildDeletionWaitsForAnEditInFlight(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            try await Self.populate(store)
            let guild = IDs.guild(1).column
            // The deletion starts once the edit's audit row is written (and before it commits).
            let (written, signal) = AsyncStream<Void>.makeStream()
            async let edit: Void = store.transaction { database in
                _ = try await database.raw("SELECT guild_id FROM guild_config WHERE guild_id = \(bind: guild)\(StoreSupport.forUpdate(database))").first()
                try await database.raw("""
                    INSERT INTO panel_audit (guild_id, actor_id, action, before_value, after_value, at)
                    VALUES (\(bind: guild), 9, 'config.update', '{}', '{"secret": 1}', 0)
                    """).run()
                signal.yield()
                try await Task.sleep(for: .milliseconds(800))
            }
            var waiting = written.makeAsyncIterator()
            _ = await waiting.next()
            _ = try await store.deleteGuildData(IDs.guild(1))
            try await edit
            #expect(try await store.exportGuild(IDs.guild(1)).panelAudit.isEmpty, "the edit's audit row went with the guild")
        }
    }

    /// A member's row deleted by another transaction while the guild's deletion waits for it is
    /// not in the deletion's report: the report counts what the deletion removed.
    @Test(arguments: TestEngine.available)
    func aGuildDeletionReportsOnlyTheRowsItDeleted(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            try await Self.populate(store)
            let guild = IDs.guild(1).column
            let (held, signal) = AsyncStream<Void>.makeStream()
            async let other: Void = store.transaction { database in
                _ = try await database.raw("""
                    SELECT user_id FROM server_users WHERE guild_id = \(bind: guild) AND user_id = \(bind: IDs.user(2).column)\(StoreSupport.forUpdate(database))
                    """).first()
                signal.yield()
                try await Self.untilADeleteWaits(on: "server_users", engine, store)
                try await database.raw("""
                    DELETE FROM server_users WHERE guild_id = \(bind: guild) AND user_id = \(bind: IDs.user(2).column)
                    """).run()
            }
            var waiting = held.makeAsyncIterator()
            _ = await waiting.next()
            let report = try await store.deleteGuildData(IDs.guild(1))
            try await other
            #expect(report.serverUsers == 1, "user 2's row was deleted by the other transaction, not by this one")
            #expect(try await store.exportGuild(IDs.guild(1)).serverUsers.isEmpty)
        }
    }

    /// Returns once a statement touching `table` waits for a row lock (PostgreSQL), or after a
    /// pause long enough for a deletion to queue behind the held write transaction (SQLite, where
    /// writes queue in the store and nothing can be watched).
    static func untilADeleteWaits(on table: String, _ engine: TestEngine, _ store: KamiiStore) async throws {
        guard engine == .postgres else { return try await Task.sleep(for: .milliseconds(300)) }
        for _ in 0..<200 {
            let waiting = try await store.read { database in
                try await database.raw("""
                    SELECT count(*)::int AS n FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE \(bind: "%DELETE FROM \"\(table)\"%")
                    """).first()?.decode(column: "n", as: Int.self) ?? 0
            }
            if waiting > 0 { return }
            try await Task.sleep(for: .milliseconds(25))
        }
        Issue.record("no DELETE on \(table) came to wait for the held row")
    }
}
