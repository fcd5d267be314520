import DiscordModels
import Foundation

/// The URLs `kamii run` is given: refused at load when they cannot work, rather than found out by
/// shards that retry for ever or a token sent in the clear.
extension RunConfiguration {
    /// `api_url` without its trailing slashes (every route begins with one): an http(s) URL with a
    /// host, https when the host is Discord's (the token is in every request's header).
    static func checkedAPIURL(_ text: String) throws -> (text: String, url: URL) {
        var text = text
        while text.hasSuffix("/") { text.removeLast() }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              url.host?.isEmpty == false else {
            throw Invalid("api_url must be an http(s) URL such as https://discord.com/api/v10, not \(shown(text))")
        }
        // Routes are appended to it: after a query or a fragment they would not be paths.
        guard url.query == nil, url.fragment == nil else {
            throw Invalid("api_url is a base URL, without a query or a fragment, not \(shown(text))")
        }
        if scheme == "http", DiscordHosts.contains(url.host) {
            throw Invalid("api_url must use https with Discord (plain http would send the bot token in the clear), not \(shown(text))")
        }
        return (text, url)
    }

    /// `gateway_url`: a ws(s) URL naming a host (and port) — the shard asks for its own path and
    /// query (`/?v=10&encoding=json…`), so a path would be silently dropped; a query on `/` (as
    /// Discord's documentation writes the URL) is left for Kamii's own — and wss when the host is
    /// Discord's.
    static func checkedGatewayURL(_ text: String?) throws -> URL? {
        guard let text else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["ws", "wss"].contains(scheme),
              url.host?.isEmpty == false else {
            throw Invalid("gateway_url must be a ws:// or wss:// URL with a host, such as wss://gateway.discord.gg, not \(shown(text))")
        }
        guard ["", "/"].contains(url.path), url.fragment == nil, url.user == nil else {
            throw Invalid("gateway_url names a host and port only (Kamii asks for /?v=10&encoding=json… itself), not \(shown(text))")
        }
        if scheme == "ws", DiscordHosts.contains(url.host) {
            throw Invalid("gateway_url must use wss with Discord (plain ws would send the bot token in the clear), not \(shown(text))")
        }
        return url
    }

    /// A URL as an error may repeat it: not at all when it could hold credentials (a user part),
    /// readable or not.
    static func shown(_ text: String) -> String {
        text.contains("@") ? "the URL given (not repeated: it has a user part, which may hold a password)" : text
    }
}
