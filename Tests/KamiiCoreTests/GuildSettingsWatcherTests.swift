import DiscordModels
import Foundation
import KamiiCore
@testable import KamiiStore
import KamiiTestSupport
import Logging
import SQLKit
import Synchronization
import Testing

/// What admins save while the bot runs reaches the guild actors, against a real SQLite store.
struct GuildSettingsWatcherTests {
    typealias D = TestDispatches

    /// A migrated store in a temp file for the length of `body`.
    private func withStore(_ body: (KamiiStore) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(path)"))
        try await store.migrate()
        do { try await body(store) } catch {
            try? await store.close()
            throw error
        }
        try await store.close()
    }

    private func xpOff() -> GuildConfig {
        var config = GuildConfig()
        config.modules.xp = false
        return config
    }

    /// A busy guild's actor lives on and on: it reads the configuration again once the watcher
    /// reports it saved, not before, and the change is reported once.
    @Test func whatAnAdminSavesReachesALiveGuildActor() async throws {
        try await withStore { store in
            let guild = GuildID(D.guild)
            // Registered a minute before the watcher was made: its first look does not name it.
            try await store.registerGuild(guild, at: Date() - 60)
            let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: StoreGuildSettings(store: store))
            let watcher = GuildSettingsWatcher(store: store) { guilds in guilds.forEach(router.settingsChanged) }
            #expect(await watcher.look().isEmpty, "the first look notes where things stand")

            await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
            try await store.putGuildConfig(xpOff(), for: guild, by: UserID(9))
            await router.route(D.message(id: D.messageID(atSecond: 120), author: 10))
            #expect(await watcher.look() == [guild])
            await router.route(D.message(id: D.messageID(atSecond: 240), author: 10))
            #expect(await watcher.look().isEmpty, "reported once")

            let batch = try #require(router.stats.take()[D.guild])
            #expect(batch.grants.map(\.messageTime) == [0, 120].map { MessageID(D.messageID(atSecond: $0)).unixMilliseconds },
                    "XP until the save was seen, none after")
            #expect(batch.messages == [10: 3], "messages still count with XP off")
        }
    }

    /// Counts what is logged at error level.
    struct CountingLogHandler: LogHandler {
        let errors: Locked<Int>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            if event.level == .error { errors.withLock { $0 += 1 } }
        }
    }

    /// While the database is away, a failed read spares the store every read for a while (each
    /// would wait for its own failure while its shard waits), then asks again.
    @Test func afterAFailedReadTheStoreIsLeftAloneForAWhile() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("kamii-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        let store = try KamiiStore(StoreConfiguration(url: "sqlite:\(path)"))
        try await store.migrate()
        try await store.close()
        let errors = Locked(0)
        let logger = Logger(label: "test") { _ in CountingLogHandler(errors: errors) }
        let quiet = StoreGuildSettings(store: store, quietPeriod: .seconds(60), logger: logger)
        for guild in 1...3 { #expect(await quiet.settings(for: GuildID(UInt64(guild) << 22)) == nil) }
        #expect(errors.value == 1, "asked once")
        let eager = StoreGuildSettings(store: store, quietPeriod: .zero, logger: logger)
        for guild in 1...2 { #expect(await eager.settings(for: GuildID(UInt64(guild) << 22)) == nil) }
        #expect(errors.value == 3, "asked each time")
    }

    /// A configuration this binary cannot decode is its guild's problem: the others are read on.
    @Test func aConfigurationThatCannotBeDecodedSparesTheOtherGuilds() async throws {
        try await withStore { store in
            let (broken, fine) = (GuildID(D.guild), GuildID(D.guild + (1 << 22)))
            try await store.registerGuild(broken)
            try await store.transaction { try await $0.raw("UPDATE guild_config SET settings = '{\"modules\": 7'").run() }
            try await store.registerGuild(fine)
            let settings = StoreGuildSettings(store: store, quietPeriod: .seconds(60))
            #expect(await settings.settings(for: broken)?.isRefused == true)
            #expect(await settings.settings(for: fine) != nil)
        }
    }

    /// A configuration outside the panel's limits (written by hand, or by another build) is refused
    /// for its guild alone, as one that cannot be decoded is.
    @Test func aConfigurationOutsideTheLimitsIsRefusedForItsGuildAlone() async throws {
        try await withStore { store in
            let (bogus, fine) = (GuildID(D.guild), GuildID(D.guild + (1 << 22)))
            for guild in [bogus, fine] { try await store.registerGuild(guild) }
            var config = GuildConfig()
            config.xp.cooldownSeconds = 20_000_000_000_000_000
            config.xp.multiplier = 1e300
            let json = String(decoding: try JSONEncoder().encode(config), as: UTF8.self)
            try await store.transaction { try await $0.raw("UPDATE guild_config SET settings = \(bind: json) WHERE guild_id = \(bind: bogus.column)").run() }
            let settings = StoreGuildSettings(store: store, quietPeriod: .seconds(60))
            #expect(await settings.settings(for: bogus)?.isRefused == true)
            #expect(await settings.settings(for: fine)?.isRefused == false)
        }
    }

    /// A guild whose configuration is refused has its messages counted and earns nothing its
    /// configuration could have forbidden (the defaults would give XP); a valid save brings XP back.
    @Test func aRefusedConfigurationCountsMessagesAndGivesNoXP() async throws {
        try await withStore { store in
            let guild = GuildID(D.guild)
            try await store.registerGuild(guild, at: Date() - 60)
            try await store.transaction { try await $0.raw("UPDATE guild_config SET settings = '{\"modules\": 7'").run() }
            let router = GuildRouter(stats: StatsBuffer(capacity: 1_000), settings: StoreGuildSettings(store: store))
            await router.route(D.message(id: D.messageID(atSecond: 0), author: 10))
            await router.route(D.message(id: D.messageID(atSecond: 120), author: 10))
            try await store.putGuildConfig(GuildConfig(), for: guild, by: UserID(9))
            router.settingsChanged(guild)
            await router.route(D.message(id: D.messageID(atSecond: 240), author: 10))
            let batch = try #require(router.stats.take()[D.guild])
            #expect(batch.messages == [10: 3])
            #expect(batch.grants.map(\.messageTime) == [MessageID(D.messageID(atSecond: 240)).unixMilliseconds], "XP once saved valid")
        }
    }

    /// A save stamped an hour ahead (a writer whose clock runs fast) does not hide the saves
    /// stamped correctly after it.
    @Test func aSaveStampedInTheFutureHidesNothing() async throws {
        try await withStore { store in
            let now = Date()
            let (early, late) = (GuildID(D.guild + (1 << 22)), GuildID(D.guild + (2 << 22)))
            for guild in [early, late] { try await store.registerGuild(guild, at: now) }
            let watcher = GuildSettingsWatcher(store: store) { _ in }
            await watcher.look()
            try await store.putGuildConfig(xpOff(), for: early, by: UserID(9), at: now + 3_600)
            #expect(await watcher.look() == [early])
            try await store.putGuildConfig(xpOff(), for: late, by: UserID(9), at: now + 1)
            #expect(await watcher.look() == [late])
        }
    }

    /// The store, failing the page reads it is told to.
    final class Failing: GuildConfigChangeLog {
        let store: KamiiStore
        let failPageReads = Mutex<Set<Int>>([])
        let pageReads = Mutex(0)
        init(_ store: KamiiStore) { self.store = store }
        func guildConfigChanges(since: Int64, after: GuildID?, limit: Int) async throws -> [GuildConfigChange] {
            let read = pageReads.withLock { $0 += 1; return $0 }
            if failPageReads.withLock({ $0.contains(read) }) { throw StoreError(.database, "the database went away") }
            return try await store.guildConfigChanges(since: since, after: after, limit: limit)
        }
    }

    /// A store that cannot answer the watcher's first look (the database away at start): a save
    /// made before the first look that works is reported by it — an actor may have read the old
    /// configuration meanwhile — and what was saved well before the watcher was made is not.
    @Test func aSaveBeforeTheFirstLookThatWorksIsReported() async throws {
        try await withStore { store in
            let (before, after) = (GuildID(D.guild + (1 << 22)), GuildID(D.guild + (2 << 22)))
            for guild in [before, after] { try await store.registerGuild(guild, at: Date() - 60) }
            try await store.putGuildConfig(xpOff(), for: before, by: UserID(9), at: Date() - 30)
            let failing = Failing(store)
            failing.failPageReads.withLock { $0 = [1] }
            let watcher = GuildSettingsWatcher(store: failing) { _ in }
            #expect(await watcher.look().isEmpty, "the store cannot answer")
            try await Task.sleep(for: .milliseconds(5))
            try await store.putGuildConfig(xpOff(), for: after, by: UserID(9))
            #expect(await watcher.look() == [after])
            #expect(await watcher.look().isEmpty)
        }
    }

    /// A look that fails on its second page reports nothing, and the next look reports every guild
    /// saved, the first page's included.
    @Test func aLookFailingHalfWayLosesNothing() async throws {
        try await withStore { store in
            let now = Date()
            let guilds = (1...5).map { GuildID(D.guild + UInt64($0) << 22) }
            for guild in guilds { try await store.registerGuild(guild, at: now - 60) }
            let failing = Failing(store)
            let watcher = GuildSettingsWatcher(store: failing, pageSize: 2) { _ in }
            await watcher.look()
            for (offset, guild) in guilds.enumerated() {
                try await store.putGuildConfig(xpOff(), for: guild, by: UserID(9), at: now + 1 + Double(offset))
            }
            let next = failing.pageReads.withLock { $0 } + 2
            failing.failPageReads.withLock { $0 = [next] }
            #expect(await watcher.look().isEmpty, "the second page failed")
            #expect(Set(await watcher.look()) == Set(guilds))
        }
    }

    /// A save stamped a little behind the newest one seen (another process's clock, a transaction
    /// that committed late) is still found; saves beyond a page come in further pages.
    @Test func latePagesAndEverySaveAreFound() async throws {
        try await withStore { store in
            let now = Date()
            let guilds = (1...5).map { GuildID(D.guild + UInt64($0) << 22) }
            for guild in guilds { try await store.registerGuild(guild, at: now - 60) }
            let reported = Mutex<[GuildID]>([])
            let watcher = GuildSettingsWatcher(store: store, pageSize: 2) { guilds in reported.withLock { $0 += guilds } }
            await watcher.look()

            try await store.putGuildConfig(xpOff(), for: guilds[0], by: UserID(9), at: now + 2)
            #expect(await watcher.look() == [guilds[0]])
            try await store.putGuildConfig(xpOff(), for: guilds[1], by: UserID(9), at: now - 5)
            #expect(await watcher.look() == [guilds[1]], "5 s behind the newest save")

            for (offset, guild) in guilds.enumerated() {
                try await store.putGuildConfig(GuildConfig(), for: guild, by: UserID(9), at: now + 3 + Double(offset))
            }
            #expect(Set(await watcher.look()) == Set(guilds), "five saves in pages of two")
            #expect(await watcher.look().isEmpty)
            #expect(reported.withLock { $0 }.count == 7)
        }
    }
}
