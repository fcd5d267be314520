import DiscordModels
import Foundation
import Testing
@testable import KamiiStore

@Suite struct GuildConfigTests {
    @Test(arguments: TestEngine.available)
    func aChangeIsStoredWithItsAuditRowInOneTransaction(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild, at: IDs.time)
            try await store.registerGuild(guild, at: IDs.time)  // idempotent
            let initial = try #require(try await store.guildConfig(guild))
            #expect(initial.config == GuildConfig())
            #expect(initial.revision == 1)

            var config = GuildConfig()
            config.modules.welcome = true
            config.channels.welcome = IDs.channel(7)
            config.xp.noXPChannels = [IDs.channel(8)]
            config.xp.roleMultipliers = [IDs.role(1): 1.5]
            config.xp.levelRewards = [.init(level: 5, role: IDs.role(2)), .init(level: 10, role: IDs.role(3))]
            let stored = try await store.putGuildConfig(config, for: guild, by: IDs.user(9), expectedRevision: 1, at: IDs.time)
            #expect(stored.revision == 2)
            #expect(try await store.guildConfig(guild)?.config == config)

            let audit = try await store.panelAudit(guild)
            #expect(audit.count == 1)
            #expect(audit[0].actor == IDs.user(9))
            #expect(audit[0].action == "config.update")
            #expect(audit[0].at == IDs.time)
            let before = try JSONDecoder().decode(GuildConfig.self, from: Data(try #require(audit[0].before).utf8))
            let after = try JSONDecoder().decode(GuildConfig.self, from: Data(try #require(audit[0].after).utf8))
            #expect(before == GuildConfig())
            #expect(after == config)
        }
    }

    /// A configuration this binary cannot read (another build's, or edited by hand) is replaced by a
    /// valid save, and the audit row keeps the text that was there.
    @Test(arguments: TestEngine.available)
    func aValidSaveReplacesAConfigurationThatCannotBeRead(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild, at: IDs.time)
            let unreadable = #"{"modules": 7"#
            try await store.transaction { try await $0.raw("UPDATE guild_config SET settings = \(bind: unreadable) WHERE guild_id = \(bind: guild.column)").run() }
            await #expect(throws: StoreError.self) { try await store.guildConfig(guild) }
            var config = GuildConfig()
            config.modules.karma = true
            let stored = try await store.putGuildConfig(config, for: guild, by: IDs.user(9), expectedRevision: 1)
            #expect(stored.revision == 2)
            #expect(try await store.guildConfig(guild)?.config == config)
            #expect(try await store.panelAudit(guild).map(\.before) == [unreadable])
        }
    }

    /// A revision at the largest number SQL holds (a damaged row) refuses the save with a clear
    /// error instead of overflowing, and leaves the row as it was.
    @Test(arguments: TestEngine.available)
    func aRevisionAtItsLimitRefusesTheSave(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild, at: IDs.time)
            try await store.transaction { try await $0.raw("UPDATE guild_config SET revision = \(bind: Int64.max) WHERE guild_id = \(bind: guild.column)").run() }
            await #expect {
                try await store.putGuildConfig(GuildConfig(), for: guild, by: IDs.user(9))
            } throws: { error in
                (error as? StoreError).map { "\($0)".contains("revision \(Int64.max)") } == true
            }
            #expect(try await store.guildConfig(guild)?.revision == Int64.max)
            #expect(try await store.panelAudit(guild).isEmpty)
        }
    }

    /// What a running bot polls for: configurations saved since a time, oldest first, a page at a time.
    @Test(arguments: TestEngine.available)
    func savedConfigurationsAreListedByWhenTheyWereSaved(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            #expect(try await store.latestConfigChange() == nil)
            let (one, two) = (IDs.guild(1), IDs.guild(2))
            try await store.registerGuild(one, at: IDs.time)
            try await store.registerGuild(two, at: IDs.time + 1)
            try await store.putGuildConfig(GuildConfig(), for: one, by: IDs.user(9), at: IDs.time + 2)
            let ms = IDs.time.unixMilliseconds
            #expect(try await store.latestConfigChange() == ms + 2_000)
            #expect(try await store.guildConfigChanges(since: ms) == [
                GuildConfigChange(guild: two, revision: 1, updatedAt: ms + 1_000), GuildConfigChange(guild: one, revision: 2, updatedAt: ms + 2_000),
            ])
            #expect(try await store.guildConfigChanges(since: ms, limit: 1).map(\.guild) == [two])
            #expect(try await store.guildConfigChanges(since: ms + 2_000).map(\.guild) == [one], "at or after")
            #expect(try await store.guildConfigChanges(since: ms + 2_001).isEmpty)
            // Saves of the same millisecond are paged by guild.
            try await store.registerGuild(IDs.guild(3), at: IDs.time + 1)
            let firstPage = try await store.guildConfigChanges(since: ms + 1_000, limit: 1)
            #expect(firstPage.map(\.guild) == [two])
            #expect(try await store.guildConfigChanges(since: ms + 1_000, after: two, limit: 1).map(\.guild) == [IDs.guild(3)])
            #expect(try await store.guildConfigChanges(since: ms + 1_000, after: IDs.guild(3), limit: 1).map(\.guild) == [one])
        }
    }

    @Test(arguments: TestEngine.available)
    func aStaleRevisionWritesNothing(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(2)
            try await store.registerGuild(guild)
            var first = GuildConfig()
            first.modules.karma = true
            try await store.putGuildConfig(first, for: guild, by: IDs.user(1), expectedRevision: 1)
            var second = GuildConfig()
            second.modules.tickets = true
            await expectStoreError(.conflict) {
                try await store.putGuildConfig(second, for: guild, by: IDs.user(2), expectedRevision: 1)
            }
            #expect(try await store.guildConfig(guild)?.config == first)
            #expect(try await store.panelAudit(guild).count == 1)
        }
    }

    @Test(arguments: TestEngine.available)
    func ofConcurrentEditsFromOneRevisionExactlyOneLands(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(4)
            try await store.registerGuild(guild)
            let outcomes = await withTaskGroup(of: StoreError.Kind?.self) { group in
                for editor in 1...10 {
                    group.addTask {
                        var config = GuildConfig()
                        config.xp.cooldownSeconds = editor
                        do {
                            try await store.putGuildConfig(config, for: guild, by: IDs.user(UInt64(editor)), expectedRevision: 1)
                            return nil
                        } catch let error as StoreError {
                            return error.kind
                        } catch {
                            return .database
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == nil }.count == 1)
            #expect(outcomes.filter { $0 == .conflict }.count == 9)
            #expect(try await store.guildConfig(guild)?.revision == 2)
            #expect(try await store.panelAudit(guild).count == 1)
        }
    }

    @Test(arguments: TestEngine.available)
    func aFailedAuditWriteRollsTheChangeBack(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(5)
            try await store.registerGuild(guild)
            try await store.transaction { try await $0.raw("DROP TABLE panel_audit").run() }
            var config = GuildConfig()
            config.modules.alerts = true
            await expectStoreError(.database) { try await store.putGuildConfig(config, for: guild, by: IDs.user(1)) }
            let stored = try #require(try await store.guildConfig(guild))
            #expect(stored.revision == 1)
            #expect(stored.config == GuildConfig())
        }
    }

    static let bogusConfigs: [(String, @Sendable (inout GuildConfig) -> Void)] = [
        ("min above max", { $0.xp.minPerMessage = 30; $0.xp.maxPerMessage = 20 }),
        ("negative XP", { $0.xp.minPerMessage = -1 }),
        ("huge cooldown", { $0.xp.cooldownSeconds = 1_000_000 }),
        ("NaN multiplier", { $0.xp.multiplier = .nan }),
        ("zero channel ID", { $0.channels.modLog = ChannelID(0) }),
        ("ID beyond BIGINT", { $0.verifiedRole = RoleID(UInt64.max) }),
        ("duplicate reward level", { $0.xp.levelRewards = [.init(level: 5, role: IDs.role(1)), .init(level: 5, role: IDs.role(2))] }),
        ("level 0 reward", { $0.xp.levelRewards = [.init(level: 0, role: IDs.role(1))] }),
        ("no karma emoji", { $0.karma.emoji = [] }),
        ("too many no-XP channels", { $0.xp.noXPChannels = (1...501).map { IDs.channel($0) } }),
    ]

    @Test(arguments: TestEngine.available)
    func bogusConfigurationIsRefusedAndNothingIsWritten(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(3)
            try await store.registerGuild(guild)
            for (name, breakIt) in Self.bogusConfigs {
                var config = GuildConfig()
                breakIt(&config)
                await expectStoreError(.invalidInput, because: name) { try await store.putGuildConfig(config, for: guild, by: IDs.user(1)) }
            }
            #expect(try await store.guildConfig(guild)?.revision == 1)
            #expect(try await store.panelAudit(guild).isEmpty)
        }
    }

    @Test(arguments: TestEngine.available)
    func anUnknownGuildOrAnInvalidIDIsATypedError(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            await expectStoreError(.unknownGuild) { try await store.putGuildConfig(GuildConfig(), for: IDs.guild(404), by: IDs.user(1)) }
            await expectStoreError(.invalidInput) { try await store.registerGuild(GuildID(0)) }
            await expectStoreError(.invalidInput) { try await store.putGuildConfig(GuildConfig(), for: IDs.guild(1), by: UserID(0)) }
            let missing = try await store.guildConfig(IDs.guild(404))
            #expect(missing == nil)
        }
    }
}

@Suite struct TemplateTests {
    @Test(arguments: TestEngine.available)
    func templatesRoundTripVerbatimIncludingHostileText(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let hostile = "Welcome {user}! '); DROP TABLE guild_config; -- \u{202E}ʇxǝʇ \\\" {{#each}} <script>alert(1)</script> 👋"
            let welcome = MessageTemplate(content: hostile, embed: .init(title: "Hi {user.name}", description: "Rules in <#123>", color: 0x5865F2, imageURL: "https://cdn.example/banner.png"))
            try await store.putTemplate(welcome, .welcome, for: guild, by: IDs.user(1))
            try await store.putTemplate(MessageTemplate(content: "Bye {user}"), .farewell, for: guild, by: IDs.user(1))
            #expect(try await store.template(.welcome, for: guild) == welcome)
            #expect(try await store.templates(for: guild) == [.welcome: welcome, .farewell: MessageTemplate(content: "Bye {user}")])
            #expect(try await store.guildConfig(guild) != nil)

            let replaced = MessageTemplate(content: "Hello again")
            try await store.putTemplate(replaced, .welcome, for: guild, by: IDs.user(2))
            #expect(try await store.template(.welcome, for: guild) == replaced)
            let audit = try await store.panelAudit(guild)
            #expect(audit.map(\.action) == ["template.welcome", "template.farewell", "template.welcome"])
            #expect(audit[0].before?.contains("DROP TABLE") == true)
        }
    }

    @Test(arguments: TestEngine.available)
    func overLongOrEmptyTemplatesAreRefusedAndNothingIsWritten(_ engine: TestEngine) async throws {
        try await withStore(engine) { store in
            let guild = IDs.guild(1)
            try await store.registerGuild(guild)
            let bad: [MessageTemplate] = [
                MessageTemplate(content: String(repeating: "x", count: 2_001)),
                MessageTemplate(content: "   "),
                MessageTemplate(content: "", embed: .init(title: String(repeating: "t", count: 257))),
                MessageTemplate(content: "", embed: .init(description: String(repeating: "d", count: 4_000), footer: String(repeating: "f", count: 2_048))),
                MessageTemplate(content: "", embed: .init()),
                MessageTemplate(content: "ok", embed: .init(title: "x", color: 0x1000000)),
                MessageTemplate(content: "ok", embed: .init(title: "x", imageURL: "javascript:alert(1)")),
                MessageTemplate(content: "nul \u{0} byte"),
            ]
            for template in bad {
                await expectStoreError(.invalidInput) { try await store.putTemplate(template, .welcome, for: guild, by: IDs.user(1)) }
            }
            await expectStoreError(.unknownGuild) { try await store.putTemplate(MessageTemplate(content: "hi"), .welcome, for: IDs.guild(9), by: IDs.user(1)) }
            #expect(try await store.templates(for: guild).isEmpty)
            #expect(try await store.panelAudit(guild).isEmpty)
            // Exactly at Discord's limit is fine.
            try await store.putTemplate(MessageTemplate(content: String(repeating: "é", count: 2_000)), .levelUp, for: guild, by: IDs.user(1))
        }
    }
}
