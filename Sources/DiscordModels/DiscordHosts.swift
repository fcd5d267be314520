/// Discord's own hosts — its API (and the older name) and its gateway — told from a simulator's or
/// a proxy's, for the rules that hold only against the real service (the identify window, TLS).
public enum DiscordHosts {
    public static let domains = ["discord.com", "discordapp.com", "discord.gg"]

    /// Whether `host` is one of Discord's domains or under one (any letter case; a trailing dot,
    /// the fully qualified form, allowed).
    public static func contains(_ host: String?) -> Bool {
        guard var host = host?.lowercased() else { return false }
        if host.hasSuffix(".") { host.removeLast() }
        return domains.contains { host == $0 || host.hasSuffix("." + $0) }
    }
}
