import ArgumentParser

/// The `kamii` command line: the bot, its tools and its operators' utilities.
@main
struct Kamii: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kamii",
        abstract: "Kamii: a Discord server-management bot for large networks.",
        subcommands: [Run.self, InspectCapture.self, BenchCapture.self, Simulate.self, Migrate.self, DataCommand.self, TrustCommand.self]
    )
}
