import ArgumentParser
import DiscordModels
import Foundation
import KamiiRedis
import KamiiStats
import KamiiStore

/// `kamii data`: the privacy requests — export or delete what Kamii stores for a guild or a user.
struct DataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Export or delete what Kamii stores about a guild or a user (see docs/PRIVACY.md).",
        subcommands: [Export.self, Delete.self])

    /// `--guild ID` or `--user ID`, exactly one.
    struct Subject: ParsableArguments {
        @Option(help: "A guild ID.") var guild: UInt64?
        @Option(help: "A user ID.") var user: UInt64?

        func validate() throws {
            guard (guild == nil) != (user == nil) else { throw ValidationError("give exactly one of --guild and --user") }
            // Checked before Redis is touched: the SQL step refuses such IDs, too late to spare Redis
            // a purge of a guild no Discord object is.
            guard let id = guild ?? user, UserID(id).isValid else {
                throw ValidationError("\(guild ?? user ?? 0) is not a Discord ID (a number from 1 to \(Int64.max))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print everything stored about a guild or a user as one JSON document.",
            discussion: """
                With a Redis (--redis, else $KAMII_REDIS_URL, else redis_url in --config / $KAMII_CONFIG), the \
                document also holds `karma_ledger`: the \
                reactions Redis remembers as having given karma, where the guild is the subject or the \
                user reacted or received the karma; and `karma_cooldowns`: the karma pair cooldowns \
                running, with when the giver last gave the receiver karma (both kept there only, \
                docs/PRIVACY.md); and `stats_in_redis`: the live stats (XP, level, messages, karma, trust, \
                profile) as Redis holds them now, newer than SQL's by up to a checkpoint interval.
                """)
        @OptionGroup var subject: Subject
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var liveStats: LiveStatsOptions

        func run() async throws {
            let locations = try options.locations()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            // The milliseconds the store keeps, not cut to whole seconds (`.iso8601` drops them).
            encoder.dateEncodingStrategy = .custom { date, encoder in
                var container = encoder.singleValueContainer()
                try container.encode(date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            }
            let ledger: FromRedis? = try await liveStats.withRedis(locations) { client, keys in
                let export = KarmaLedger(redis: client, keys: keys), cooldowns = KarmaPairCooldowns(redis: client, keys: keys)
                let reader = StatsReader(redis: client, keys: keys)
                let entries: [KarmaLedgerEntry], running: [KarmaPairCooldown], live: [(GuildID, UserID, MemberRecord)]
                if let guild = subject.guild.map(GuildID.init) {
                    // One walk of the guild's karma keys for the ledgers and the pair cooldowns.
                    let scanned = try await client.keys(matching: keys.karmaKeys(in: guild))
                    entries = try await export.entries(among: scanned)
                    running = try await cooldowns.running(among: scanned)
                    live = try await reader.scanMembers(of: guild).map { (guild, $0.user, $0.record) }
                } else {
                    // One walk of the keyspace for all three, as a user's purge does (SCAN visits every key).
                    let user = UserID(subject.user!)
                    let scanned = try await client.keys(matching: keys.everyMembersOrKarmaKey)
                    entries = try await export.entries(of: user, among: scanned)
                    running = try await cooldowns.running(naming: user, among: scanned)
                    live = try await reader.records(of: user, among: scanned).map { ($0.guild, user, $0.record) }
                }
                return FromRedis(
                    entries: entries.map(LedgerEntry.init), cooldowns: running.map(CooldownEntry.init),
                    live: live.sorted { ($0.0.rawValue, $0.1.rawValue) < ($1.0.rawValue, $1.1.rawValue) }.map(LiveStatsEntry.init))
            }
            if ledger == nil {
                DataCommand.warn("no Redis given (--redis, KAMII_REDIS_URL or redis_url in --config): the export holds what SQL keeps only — "
                    + "no karma ledger or cooldowns, and stats as of the last checkpoint")
            }
            let json = try await withStore(at: locations) { store in
                try await store.requireCurrentSchema()
                if let guild = subject.guild {
                    return try encoder.encode(WithRedis(document: try await store.exportGuild(GuildID(guild)), ledger: ledger))
                }
                return try encoder.encode(WithRedis(document: try await store.exportUser(UserID(subject.user!)), ledger: ledger))
            }
            FileHandle.standardOutput.write(json + Data("\n".utf8))
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete what Kamii stores about a guild or a user.",
            discussion: """
                The live stats in Redis (--redis, else $KAMII_REDIS_URL, else redis_url in --config / \
                $KAMII_CONFIG) are purged first, then SQL, then both again (what the running bot wrote \
                back meanwhile). A user's moderation cases are kept (docs/PRIVACY.md says why); \
                the report counts them.
                """)
        @OptionGroup var subject: Subject
        @OptionGroup var options: DatabaseOptions
        @OptionGroup var liveStats: LiveStatsOptions
        @Flag(help: "Delete from SQL only: for a deployment whose bot runs without Redis.") var sqlOnly = false
        @Flag(help: "Confirm the deletion; without it nothing is deleted.") var yes = false

        func run() async throws {
            guard yes else { throw ValidationError("deletion cannot be undone: add --yes to confirm") }
            let locations = try options.locations()
            let keys = try liveStats.keys(locations)
            let client = try liveStats.openRedis(locations)
            if let client, sqlOnly {
                await client.close()
                throw ValidationError("--sql-only, yet a Redis is given (\(liveStats.redisSource(locations))): purge it too")
            } else if client == nil, !sqlOnly {
                // The live stats are in Redis: a deletion from SQL alone leaves them, and the bot's
                // next checkpoint writes the member back.
                throw ValidationError(
                    "no Redis given: the bot keeps the live stats there. Give --redis URL (or KAMII_REDIS_URL, or --config with redis_url), or --sql-only if the bot runs without Redis")
            }
            let deletion: PrivacyDeletion.Report
            do {
                deletion = try await withStore(at: locations) { store in
                    try await store.requireCurrentSchema()
                    let run = PrivacyDeletion(store: store, stats: client.map { StatsPurge(redis: $0, keys: keys) })
                    if let guild = subject.guild { return try await run.delete(GuildID(guild)) }
                    return try await run.delete(UserID(subject.user!))
                }
            } catch {
                await client?.close()
                throw error
            }
            await client?.close()
            let report = deletion.sql
            if client != nil {
                print("deleted from Redis: \(subject.guild != nil ? "\(deletion.redis) keys" : "the user's stats in \(deletion.redis) guilds")"
                    + "; again after SQL: \(deletion.redisAfterSQL)")
            }
            print("deleted: server_users=\(report.serverUsers) templates=\(report.templates) cases=\(report.cases) tickets=\(report.tickets)"
                + " panel_audit=\(report.panelAudit) guild_config=\(report.configs); kept moderation cases about the user: \(report.casesKept)")
        }
    }
}

extension DataCommand {
    /// The stats keys under `prefix` (default `kamii`) — checked as `kamii run` checks it, so a
    /// deletion never purges under a prefix the bot does not write.
    static func statsKeys(_ prefix: String?) throws -> StatsKeys {
        let prefix = prefix ?? "kamii"
        guard RunConfiguration.isValidStatsPrefix(prefix) else {
            throw ValidationError("the stats prefix must be \(RunConfiguration.statsPrefixRule), not \"\(prefix)\"")
        }
        return StatsKeys(prefix: prefix)
    }

    static func warn(_ message: String) {
        FileHandle.standardError.write(Data("warning: \(message)\n".utf8))
    }
}
