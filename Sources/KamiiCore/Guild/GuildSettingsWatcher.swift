public import DiscordModels
import Foundation
public import KamiiStore
public import Logging

/// Picks up what admins save while the bot runs: every few seconds it asks SQL which guild
/// configurations were saved since its last look (the first: since it was made), and names those
/// guilds to `changed` (the guild router, whose actors read their settings again at their next
/// event; the level-up rewarder).
///
/// One query per look, however many guilds there are (`guild_config.updated_at` is indexed). Each
/// look reaches back ``overlap`` behind the newest save it has seen, and tells guilds apart by
/// revision: a save committed late, or stamped by a process whose clock runs behind, is still
/// found, and a guild already reported is not reported again.
public actor GuildSettingsWatcher {
    /// How far behind the newest save each look reaches again (milliseconds).
    public static let overlap: Int64 = 10_000

    private let store: any GuildConfigChangeLog
    private let changed: @Sendable ([GuildID]) -> Void
    private let logger: Logger
    private let pageSize: Int
    /// The newest `updated_at` seen; at first, when the watcher was made (Unix milliseconds): the
    /// first look that succeeds reports what was saved since (``overlap`` included, for a writer
    /// whose clock runs behind), however late it comes — an actor may have read its settings
    /// before a save while the store could not answer the watcher.
    private var newest: Int64
    /// Revisions seen within the overlap, by guild.
    private var seen: [GuildID: (revision: Int64, updatedAt: Int64)] = [:]
    private var failing = false

    public init(
        store: any GuildConfigChangeLog, pageSize: Int = 10_000, logger: Logger = Logger(label: "kamii.guilds"),
        changed: @escaping @Sendable ([GuildID]) -> Void
    ) {
        self.store = store
        // The precise clock, as writers stamp saves: the coarse one may lag a few milliseconds.
        newest = Int64((Date().timeIntervalSince1970 * 1_000).rounded())
        self.pageSize = pageSize
        self.logger = logger
        self.changed = changed
    }

    /// Looks every `interval` until cancelled; the first look reports what was saved since the
    /// watcher was made (and up to ``overlap`` before: a guild read again needlessly costs one read).
    public func run(every interval: Duration) async {
        await look()
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            await look()
        }
    }

    /// One look; returns the guilds reported changed. A store that cannot answer is logged once and
    /// asked again at the next look, which finds what this one missed.
    @discardableResult
    public func look() async -> [GuildID] {
        do {
            let found = try await changesSinceLastLook()
            if failing { logger.info("guild settings readable again") }
            failing = false
            if !found.isEmpty { changed(found) }
            return found
        } catch {
            if !failing { logger.error("guild settings changes unreadable; looking again later", metadata: ["error": "\(error)"]) }
            failing = true
            return []
        }
    }

    /// What changed since the last look. What it learns is kept only once every page was read: a
    /// look that fails half-way reports nothing and the next one finds it all again.
    private func changesSinceLastLook() async throws -> [GuildID] {
        // Never later than this process's clock: one save stamped in the future (a writer's clock
        // running ahead) would otherwise hide every save stamped correctly until that time.
        let now = Int64(GuildRouter.unixMilliseconds())
        let since = min(newest, now) - Self.overlap
        var seen = self.seen
        var newest = self.newest
        var found: [GuildID] = []
        var page = try await store.guildConfigChanges(since: since, after: nil, limit: pageSize)
        while true {
            for change in page {
                if seen[change.guild]?.revision != change.revision {
                    seen[change.guild] = (change.revision, change.updatedAt)
                    found.append(change.guild)
                }
                newest = max(newest, change.updatedAt)
            }
            guard page.count == pageSize, let last = page.last else { break }
            page = try await store.guildConfigChanges(since: last.updatedAt, after: last.guild, limit: pageSize)
        }
        self.newest = newest
        self.seen = seen.filter { $0.value.updatedAt >= newest - Self.overlap }
        return found
    }
}

/// Where the watcher reads which configurations were saved: the SQL store.
public protocol GuildConfigChangeLog: Sendable {
    /// Saves at or after `since`, ordered by time then guild; with `after`, the page after that
    /// guild's save at `since`.
    func guildConfigChanges(since: Int64, after: GuildID?, limit: Int) async throws -> [GuildConfigChange]
}

extension KamiiStore: GuildConfigChangeLog {}
