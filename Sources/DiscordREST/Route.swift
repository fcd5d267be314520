/// An endpoint of Discord's REST API with its parameters filled in: the path to request, and the
/// keys Discord's rate limits are tracked by — the route (method + template) and its major
/// parameter (channel, guild, or webhook + token), which splits one bucket into many.
public struct Route: Sendable, Hashable {
    public enum Method: String, Sendable {
        case get = "GET", post = "POST", put = "PUT", patch = "PATCH", delete = "DELETE"

        /// Whether sending it twice has the effect of sending it once (what may be retried after
        /// a server error or a lost connection).
        public var isIdempotent: Bool { self != .post && self != .patch }
    }

    public let method: Method
    /// The template, such as `/guilds/{guild.id}/members/{user.id}`.
    public let template: String
    /// The path with the parameters filled in (percent-encoded where needed).
    public let path: String
    /// The value of the major parameter ("" when the route has none).
    public let majorParameter: String

    /// Builds a route from a template and its parameters; the major parameter is the first of
    /// `channel.id`, `guild.id`, `webhook.id` (with its token) the template names.
    public init(_ method: Method, _ template: String, _ parameters: [String: String] = [:]) {
        self.method = method
        self.template = template
        var path = template
        for (name, value) in parameters {
            path = path.replacingOccurrences(of: "{\(name)}", with: Self.encodePathSegment(value))
        }
        self.path = path
        if let channel = parameters["channel.id"], template.contains("{channel.id}") {
            majorParameter = channel
        } else if let guild = parameters["guild.id"], template.contains("{guild.id}") {
            majorParameter = guild
        } else if let webhook = parameters["webhook.id"] ?? parameters["application.id"], let token = parameters["interaction.token"] ?? parameters["webhook.token"] {
            majorParameter = webhook + "/" + token
        } else if let interaction = parameters["interaction.id"] {
            majorParameter = interaction
        } else {
            majorParameter = ""
        }
    }

    /// The route's identity for bucket discovery: method and template.
    public var key: String { method.rawValue + " " + template }

    /// The interaction endpoints — the callback, the original response, follow-ups (a webhook
    /// addressed by an interaction's token) — authorised by that token, not the bot's.
    public var isInteractionEndpoint: Bool {
        template.hasPrefix("/interactions/") || template.hasPrefix("/webhooks/{application.id}/{interaction.token}")
    }

    /// The interaction endpoints are "not bound to the application's Global Rate Limit".
    public var isExemptFromGlobalLimit: Bool { isInteractionEndpoint }

    private static func encodePathSegment(_ value: String) -> String {
        // A segment of only dots would be collapsed by URL normalisation into another endpoint.
        if !value.isEmpty, value.allSatisfy({ $0 == "." }) { return String(repeating: "%2E", count: value.count) }
        var allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~@".utf8)
        allowed.insert(UInt8(ascii: ":"))
        var result = ""
        for byte in value.utf8 {
            if allowed.contains(byte) {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return result
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
