import ArgumentParser
import DiscordModels
import Foundation
import KamiiCore
import KamiiRedis
import KamiiStats
import KamiiStore

/// `kamii trust`: why a member's trust factor is what it is — each reason with its points, worked
/// out now from what Kamii stores (docs/TRUST.md), beside the value last stored. The stored value
/// is recomputed at member events and checkpoints; the account's age and the time in the guild
/// move on with the clock, and cases fade, so the two can differ for a member who stayed quiet.
struct TrustCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trust",
        abstract: "Explain a member's trust factor: the reasons and points that make it up (docs/TRUST.md).",
        discussion: """
            Judged on the member's live stats in Redis (--redis, else $KAMII_REDIS_URL, else redis_url in \
            --config / $KAMII_CONFIG) — or, with no Redis or no record of the member there (said on \
            stderr), on SQL's last checkpoint — and on their moderation cases in SQL.
            """)

    @Option(help: "The guild ID.") var guild: UInt64
    @Option(help: "The member's user ID.") var user: UInt64
    @OptionGroup var options: DatabaseOptions
    @OptionGroup var liveStats: LiveStatsOptions
    @Flag(help: "Print one JSON document instead of text.") var json = false

    func validate() throws {
        for (name, id) in [("--guild", guild), ("--user", user)] where !UserID(id).isValid {
            throw ValidationError("\(name) \(id) is not a Discord ID (a number from 1 to \(Int64.max))")
        }
    }

    /// What `--json` prints.
    struct Explanation: Encodable {
        struct Line: Encodable {
            let reason: String
            let points: Int
        }
        let guild: String
        let user: String
        /// The value now, 0–100.
        let trust: Int
        /// The value last stored (Redis's, else SQL's); left out when none was.
        let stored: Int?
        /// Where the member's stats came from: `redis`, `sql`, or `none` (account age and cases only).
        let source: String
        let reasons: [Line]
    }

    func run() async throws {
        let locations = try options.locations()
        let (guildID, userID) = (GuildID(guild), UserID(user))
        // SQL first: a missing or outdated database is the first thing to say.
        let (checkpointed, cases) = try await withStore(at: locations) { store in
            try await store.requireCurrentSchema()
            return (try await store.serverUser(userID, in: guildID), try await store.cases(of: userID, in: guildID))
        }
        var live: MemberRecord?
        if let (lookup, prefix) = try await liveStats.withRedis(locations, { client, keys in
            (try await StatsReader(redis: client, keys: keys).lookUp(userID, in: guildID), keys.prefix)
        }) {
            switch lookup {
            case .found(let record):
                live = record
            case .unreadable:
                DataCommand.warn("Redis's record of the member cannot be read (damaged, or written by a later Kamii): judged on SQL's last checkpoint, which the checkpointer no longer updates for them")
            case .absent:
                DataCommand.warn("Redis holds the guild but not the member: judged on SQL's last checkpoint")
            case .guildNotLoaded:
                DataCommand.warn("Redis holds nothing of guild \(guild) under the stats prefix \(prefix) (a wrong prefix, or a guild not loaded since Redis lost it): judged on SQL's last checkpoint")
            }
        } else {
            DataCommand.warn("no Redis given (--redis, KAMII_REDIS_URL or redis_url in --config): judged on SQL's last checkpoint")
        }
        // A member Redis does not hold is judged on the record a guild loaded back from SQL gives them.
        let signals: TrustFactor.Signals, stored: Int?, source: String
        if let live {
            (signals, stored, source) = (TrustFactor.Signals(user: userID, record: live, cases: cases), live.trust, "redis")
        } else if let checkpointed {
            (signals, stored, source) = (TrustFactor.Signals(user: userID, record: MemberRecord(loadedFrom: checkpointed), cases: cases), checkpointed.trust, "sql")
        } else {
            // Never seen in the guild: what is known without them — the account's age, any cases.
            (signals, stored, source) = (TrustFactor.Signals(user: userID, record: MemberRecord(), cases: cases), nil, "none")
        }
        let score = TrustFactor.score(signals, now: UInt64(Date().timeIntervalSince1970 * 1_000))
        let explanation = Explanation(
            guild: String(guild), user: String(user), trust: score.value, stored: stored, source: source,
            reasons: score.reasons.map { Explanation.Line(reason: $0.reason, points: $0.points) })
        FileHandle.standardOutput.write(Data((json ? try Self.json(explanation) : Self.text(explanation)).utf8))
    }

    static func json(_ explanation: Explanation) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(explanation), as: UTF8.self) + "\n"
    }

    static func text(_ explanation: Explanation) -> String {
        let from = switch explanation.source {
        case "redis": "Redis's live stats"
        case "sql": "SQL's last checkpoint"
        default: "the account's age and any cases only (nothing stored for them in this guild)"
        }
        let stored = explanation.stored.map { $0 == explanation.trust ? " (as stored)" : " (stored: \($0))" } ?? ""
        var lines = ["trust of user \(explanation.user) in guild \(explanation.guild): \(explanation.trust)\(stored)"]
        let sum = explanation.reasons.reduce(0) { $0 + $1.points }
        for line in explanation.reasons {
            lines.append("  " + (line.points > 0 ? "+\(line.points)" : "\(line.points)").leftPadded(to: 4) + "  " + line.reason)
        }
        if sum != explanation.trust { lines.append("  (the sum, \(sum), held within 0–100)") }
        lines.append("from \(from)")
        return lines.joined(separator: "\n") + "\n"
    }
}

private extension String {
    func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}
