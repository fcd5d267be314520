import ArgumentParser
import Foundation
import KamiiStore

/// `--database URL` and `--config FILE`, shared by the commands that work on `kamii run`'s stores
/// without running the bot (`migrate`, `data export`, `data delete`). Each store is found as the bot
/// finds it — an option, else its `KAMII_*` variable, else `kamii run`'s configuration file — so a
/// privacy deletion reaches the stores the bot writes, not only those named on its command line.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The database: sqlite:PATH or postgres://user@host:port/database.",
        discussion: "Defaults to $KAMII_DATABASE_URL, then database_url in the configuration file; one of them is required."))
    var database: String?

    @Option(help: "kamii run's configuration file, read for database_url, redis_url and stats_prefix (default: $KAMII_CONFIG).")
    var config: String?

    /// Where the stores are, the configuration file read once. `readsStats`: the command works on
    /// Redis's live stats too (the data commands), whose locations a misspelling must not change.
    func locations(readsStats: Bool = true) throws -> StoreLocations {
        let environment = ProcessInfo.processInfo.environment
        // A misspelt location would leave the default in its place: an export, a migration or a
        // deletion of other data than meant (a deletion reporting success under the wrong prefix).
        var read: Set<String> = readsStats ? ["KAMII_CONFIG", "KAMII_REDIS_URL", "KAMII_STATS_PREFIX"] : ["KAMII_CONFIG"]
        if database == nil { read.insert("KAMII_DATABASE_URL") }
        if let (given, meant) = RunEnvironment.misspelt(in: environment).first(where: { read.contains($0.meant) }) {
            throw ValidationError("\(given) is not a setting (did you mean \(meant)?): nothing done, since it may name other data than the default")
        }
        let path = config ?? RunConfiguration.variable("KAMII_CONFIG", in: environment)
        do {
            return try StoreLocations(file: RunConfiguration.readFile(path: path), environment: environment, database: database)
        } catch let error as RunConfiguration.Invalid {
            throw ValidationError(error.description)
        }
    }
}

/// Where `kamii run` keeps its data: the environment's `KAMII_*` over the configuration file's, and
/// `--database` over both (the data commands put their own `--redis` and `--stats-prefix` first).
struct StoreLocations {
    /// The SQL store: `--database`, else `KAMII_DATABASE_URL`, else the file's. None is no default:
    /// a made-up one (an SQLite file in the current directory) would be created empty, and a privacy
    /// deletion there would report success with the bot's own database untouched.
    var databaseURL: String?
    var redisURL: String?
    var statsPrefix: String?

    init(file: RunConfiguration.File, environment: [String: String], database: String? = nil) {
        databaseURL = database ?? RunConfiguration.setting(.databaseURL, file.databaseURL, in: environment)
        redisURL = RunConfiguration.setting(.redisURL, file.redisURL, in: environment)
        statsPrefix = RunConfiguration.setting(.statsPrefix, file.statsPrefix, in: environment)
    }
}

/// Runs `body` with the SQL store of `locations` open and closes it afterwards, whatever happens.
/// Unless `creating` (`kamii migrate`), a SQLite file that is not there is refused rather than
/// created empty: a relative path resolves against the current directory, which may not be the
/// bot's, and a deletion in an empty database would report success with the bot's untouched.
func withStore<Result>(
    at locations: StoreLocations, creating: Bool = false, _ body: (KamiiStore) async throws -> Result
) async throws -> Result {
    guard let url = locations.databaseURL else {
        throw ValidationError("no database given: pass --database, set KAMII_DATABASE_URL, or point --config (or KAMII_CONFIG) at kamii run's configuration file with database_url")
    }
    let configuration = try StoreConfiguration(url: url)
    if !creating, case .sqlite(let path) = configuration.engine, !FileManager.default.fileExists(atPath: path) {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        throw ValidationError("no SQLite database at \(absolute)\(path.hasPrefix("/") ? "" : " (a relative path, from the current directory)"): give the path kamii run uses")
    }
    let store = try KamiiStore(configuration)
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}
