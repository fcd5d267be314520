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
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print everything stored about a guild or a user as one JSON document.",
            discussion: """
                With a Redis (--redis, or $KAMII_REDIS_URL), the document also holds `karma_ledger`: the \
                reactions Redis remembers as having given karma, where the guild is the subject or the \
                user reacted or received the karma; and `karma_cooldowns`: the karma pair cooldowns \
                running, with when the giver last gave the receiver karma (both kept there only, \
                docs/PRIVACY.md).
                """)
        @OptionGroup var subject: Subject
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The Redis holding the live stats (default: $KAMII_REDIS_URL; none: SQL only).") var redis: String?
        @Option(help: "The stats key prefix (default: $KAMII_STATS_PREFIX, then kamii).") var statsPrefix: String?

        func run() async throws {
            let environment = ProcessInfo.processInfo.environment
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            var ledger: Ledger?
            if let url = redis ?? RunConfiguration.variable("KAMII_REDIS_URL", in: environment) {
                let configuration: RedisConfiguration
                do { configuration = try RedisConfiguration(url: url) } catch { throw ValidationError("--redis: \(error)") }
                let client = RedisClient(configuration: configuration)
                let keys = try DataCommand.statsKeys(statsPrefix, environment)
                let export = KarmaLedger(redis: client, keys: keys), cooldowns = KarmaPairCooldowns(redis: client, keys: keys)
                let (entries, running) = if let guild = subject.guild {
                    (try await export.entries(of: GuildID(guild)), try await cooldowns.running(in: GuildID(guild)))
                } else {
                    (try await export.entries(of: UserID(subject.user!)), try await cooldowns.running(naming: UserID(subject.user!)))
                }
                await client.close()
                ledger = Ledger(entries: entries.map(LedgerEntry.init), cooldowns: running.map(CooldownEntry.init))
            }
            let json = try await withStore(options) { store in
                try await store.requireCurrentSchema()
                if let guild = subject.guild {
                    return try encoder.encode(WithLedger(document: try await store.exportGuild(GuildID(guild)), ledger: ledger))
                }
                return try encoder.encode(WithLedger(document: try await store.exportUser(UserID(subject.user!)), ledger: ledger))
            }
            FileHandle.standardOutput.write(json + Data("\n".utf8))
        }
    }

    /// What Redis alone keeps of karma: the ledger and the pair cooldowns running.
    struct Ledger {
        let entries: [LedgerEntry]
        let cooldowns: [CooldownEntry]
    }

    /// The store's export with two more members, `karma_ledger` and `karma_cooldowns`, when a Redis was given.
    struct WithLedger<Document: Encodable>: Encodable {
        let document: Document
        let ledger: Ledger?

        private enum Key: String, CodingKey { case karmaLedger = "karma_ledger", karmaCooldowns = "karma_cooldowns" }

        func encode(to encoder: any Encoder) throws {
            try document.encode(to: encoder)
            guard let ledger else { return }
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(ledger.entries, forKey: .karmaLedger)
            try container.encode(ledger.cooldowns, forKey: .karmaCooldowns)
        }
    }

    /// A karma pair cooldown as the export writes it: IDs as text, the time as Unix milliseconds.
    struct CooldownEntry: Encodable {
        let guild, giver, receiver: String
        let givenAt: UInt64

        init(_ cooldown: KarmaPairCooldown) {
            guild = String(cooldown.guild.rawValue)
            giver = String(cooldown.giver.rawValue)
            receiver = String(cooldown.receiver.rawValue)
            givenAt = cooldown.givenAt
        }

        private enum CodingKeys: String, CodingKey { case guild, giver, receiver, givenAt = "given_at_ms" }
    }

    /// A karma ledger entry as the export writes it: IDs as text, like the rest of the document.
    struct LedgerEntry: Encodable {
        let guild, message, giver, emojiKey, receiver: String

        init(_ entry: KarmaLedgerEntry) {
            guild = String(entry.guild)
            message = String(entry.message)
            giver = String(entry.giver)
            emojiKey = String(entry.emojiKey)
            receiver = String(entry.receiver)
        }

        private enum CodingKeys: String, CodingKey { case guild, message, giver, emojiKey = "emoji_key", receiver }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete what Kamii stores about a guild or a user.",
            discussion: "A user's moderation cases are kept (docs/PRIVACY.md says why); the report counts them.")
        @OptionGroup var subject: Subject
        @OptionGroup var options: DatabaseOptions
        @Option(help: "The Redis holding the live stats, purged first (default: $KAMII_REDIS_URL; none: SQL only).") var redis: String?
        @Option(help: "The stats key prefix (default: $KAMII_STATS_PREFIX, then kamii).") var statsPrefix: String?
        @Flag(help: "Confirm the deletion; without it nothing is deleted.") var yes = false

        func run() async throws {
            guard yes else { throw ValidationError("deletion cannot be undone: add --yes to confirm") }
            let environment = ProcessInfo.processInfo.environment
            var client: RedisClient?
            if let url = redis ?? RunConfiguration.variable("KAMII_REDIS_URL", in: environment) {
                do { client = RedisClient(configuration: try RedisConfiguration(url: url)) } catch { throw ValidationError("--redis: \(error)") }
            }
            let keys = try DataCommand.statsKeys(statsPrefix, environment)
            let deletion: PrivacyDeletion.Report
            do {
                deletion = try await withStore(options) { store in
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
    /// The stats keys: `--stats-prefix`, else $KAMII_STATS_PREFIX, else `kamii` — checked as
    /// `kamii run` checks it, so a deletion never purges under a prefix the bot does not write.
    static func statsKeys(_ option: String?, _ environment: [String: String]) throws -> StatsKeys {
        let prefix = option ?? RunConfiguration.variable("KAMII_STATS_PREFIX", in: environment) ?? "kamii"
        guard RunConfiguration.isValidStatsPrefix(prefix) else {
            throw ValidationError("the stats prefix must be non-empty, without braces or spaces, not \"\(prefix)\"")
        }
        return StatsKeys(prefix: prefix)
    }
}
