import ArgumentParser
import KamiiStore

/// `kamii migrate`: brings the SQL schema up to this binary's version.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the SQL schema.",
        discussion: "Safe to run while other Kamii processes use the database, and from several processes at once.")

    @OptionGroup var options: DatabaseOptions

    func run() async throws {
        try await withStore(at: try options.locations(readsStats: false), creating: true) { store in
            let applied = try await store.migrate()
            let version = try await store.schemaVersion()
            print(applied.isEmpty
                ? "schema up to date at version \(version)"
                : "applied schema version\(applied.count == 1 ? "" : "s") \(applied.map(String.init).joined(separator: ", ")); now at version \(version)")
        }
    }
}
