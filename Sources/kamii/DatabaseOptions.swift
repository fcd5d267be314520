import ArgumentParser
import Foundation
import KamiiStore

/// `--database URL`, shared by the commands that open the SQL store.
struct DatabaseOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The database: sqlite:PATH or postgres://user@host:port/database.",
        discussion: "Defaults to $KAMII_DATABASE_URL, then sqlite:kamii.sqlite."))
    var database: String?

    var url: String {
        database ?? ProcessInfo.processInfo.environment["KAMII_DATABASE_URL"] ?? "sqlite:kamii.sqlite"
    }

    func openStore() throws -> KamiiStore {
        try KamiiStore(StoreConfiguration(url: url))
    }
}

/// Runs `body` with an open store and closes it afterwards, whatever happens.
func withStore<Result>(_ options: DatabaseOptions, _ body: (KamiiStore) async throws -> Result) async throws -> Result {
    let store = try options.openStore()
    do {
        let result = try await body(store)
        try await store.close()
        return result
    } catch {
        try? await store.close()
        throw error
    }
}
