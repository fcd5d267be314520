import DiscordModels
import Foundation
import NIOHTTP1
import Synchronization

/// OAuth2 for the web panel: `/oauth2/authorize` approves the configured test user at once and
/// redirects with a code; `/api/v10/oauth2/token` trades codes and refresh tokens for access
/// tokens; `/api/v10/oauth2/token/revoke` ends them; `/users/@me` and `/users/@me/guilds` answer
/// for a bearer token — each guild with the user's `permissions` there.
final class OAuth2Service: Sendable {
    private struct Grant {
        let scopes: String
        let redirectURI: String
    }

    /// Tokens carry the authorization they came from (a code's exchange, kept through refreshes):
    /// revoking any token revokes every token of its authorization.
    private struct State {
        var codes: [String: Grant] = [:]
        var accessTokens: [String: (scopes: String, expires: Date, authorization: Int)] = [:]
        var refreshTokens: [String: (scopes: String, authorization: Int)] = [:]
        var authorizations = 0
    }

    private let configuration: SimulatorConfiguration
    private let guilds: GuildStates
    private let state = Mutex(State())

    init(configuration: SimulatorConfiguration, guilds: GuildStates) {
        self.configuration = configuration
        self.guilds = guilds
    }

    /// The user every authorization approves.
    var user: TrafficWorld.User {
        let world = configuration.world
        if let id = configuration.oauthUserID, let index = world.userIndex(of: id) { return world.users[index] }
        return world.users[world.guilds[0].members[0]]
    }

    func authorize(_ query: [URLQueryItem]) -> RESTResponse {
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        guard value("client_id") == String(configuration.applicationID) else {
            return .json(400, SimulatedAPI.encode(["client_id": ["Value \"\(value("client_id") ?? "")\" is not snowflake."]]))
        }
        guard value("response_type") == "code", let redirect = value("redirect_uri"), var components = URLComponents(string: redirect) else {
            return .json(400, #"{"error":"invalid_request","error_description":"response_type=code and redirect_uri are required"}"#)
        }
        let code = Self.randomToken(30)
        state.withLock { $0.codes[code] = Grant(scopes: value("scope") ?? "identify", redirectURI: redirect) }
        components.queryItems = (components.queryItems ?? []) + [URLQueryItem(name: "code", value: code)]
            + (value("state").map { [URLQueryItem(name: "state", value: $0)] } ?? [])
        return RESTResponse(status: 302, headers: [("Location", components.string ?? redirect)], body: "")
    }

    /// `POST /oauth2/token` (authorization_code or refresh_token) and `/oauth2/token/revoke`.
    func token(path: String, headers: HTTPHeaders, body: [UInt8]) -> RESTResponse {
        var form: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0) }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        if let basic = headers.first(name: "Authorization"), basic.hasPrefix("Basic "),
           let decoded = Data(base64Encoded: String(basic.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }) {
            let parts = decoded.split(separator: ":", maxSplits: 1).map(String.init)
            if parts.count == 2 { form["client_id"] = parts[0]; form["client_secret"] = parts[1] }
        }
        guard form["client_id"] == String(configuration.applicationID), form["client_secret"] == configuration.clientSecret else {
            return .json(401, #"{"error":"invalid_client"}"#)
        }
        if path == "/oauth2/token/revoke" {
            // "any active access or refresh tokens associated with that authorization will be
            // revoked, regardless of the token and token_type_hint".
            state.withLock { state in
                guard let token = form["token"],
                      let authorization = state.accessTokens[token]?.authorization ?? state.refreshTokens[token]?.authorization
                else { return }
                state.accessTokens = state.accessTokens.filter { $0.value.authorization != authorization }
                state.refreshTokens = state.refreshTokens.filter { $0.value.authorization != authorization }
            }
            return .json(200, "{}")
        }
        // As RFC 6749 answers: no grant type is a malformed request, one Discord does not offer unsupported.
        guard let grantType = form["grant_type"] else {
            return .json(400, #"{"error":"invalid_request","error_description":"Missing \"grant_type\" in request."}"#)
        }
        guard ["authorization_code", "refresh_token"].contains(grantType) else { return .json(400, #"{"error":"unsupported_grant_type"}"#) }
        let access = Self.randomToken(30)
        let refresh = Self.randomToken(30)
        let scopes: String? = state.withLock { state in
            let granted: (scopes: String, authorization: Int)
            switch grantType {
            case "authorization_code":
                guard let code = form["code"], let grant = state.codes.removeValue(forKey: code),
                      form["redirect_uri"] == grant.redirectURI else { return nil }
                state.authorizations += 1
                granted = (grant.scopes, state.authorizations)
            case "refresh_token":
                guard let token = form["refresh_token"], let earlier = state.refreshTokens.removeValue(forKey: token) else { return nil }
                granted = earlier
            default:
                return nil
            }
            state.accessTokens[access] = (granted.scopes, Date().addingTimeInterval(604_800), granted.authorization)
            state.refreshTokens[refresh] = granted
            return granted.scopes
        }
        guard let scopes else {
            let field = grantType == "refresh_token" ? "refresh_token" : "code"
            return .json(400, #"{"error":"invalid_grant","error_description":"Invalid \"\#(field)\" in request."}"#)
        }
        return .json(200, SimulatedAPI.encode([
            "token_type": "Bearer", "access_token": access, "expires_in": 604_800, "refresh_token": refresh, "scope": scopes,
        ] as [String: Any]))
    }

    /// The user an access token speaks for, while it is valid and was granted `scope`.
    func user(forAccessToken token: String, scope: String) -> TrafficWorld.User? {
        let valid = state.withLock { state in
            state.accessTokens[token].map { $0.expires > Date() && $0.scopes.split(separator: " ").contains(Substring(scope)) } ?? false
        }
        return valid ? user : nil
    }

    func userJSON(_ user: TrafficWorld.User) -> String {
        let avatar = user.avatar.map { "\"\($0)\"" } ?? "null"
        return #"{"id":"\#(user.id)","username":"\#(user.username)","global_name":"\#(user.username)","discriminator":"0","avatar":\#(avatar),"public_flags":0,"flags":0,"locale":"en-US","mfa_enabled":false}"#
    }

    /// `/users/@me/guilds`: partial guilds with `owner` and the user's (nil: the bot's)
    /// `permissions` in each, by ID; `before` / `after` a guild ID, `limit` 1...200 (200), and with
    /// `with_counts` each guild's approximate member and presence counts.
    func guildsJSON(of user: TrafficWorld.User?, query: [URLQueryItem]) throws(DiscordError) -> String {
        func value(_ name: String) -> String? { query.first { $0.name == name }?.value }
        var limit = 200
        if let text = value("limit") {
            guard let number = Int(text) else { throw .invalidFormBody([("limit", "NUMBER_TYPE_COERCE", "Value \"\(text)\" is not int.")]) }
            guard (1...200).contains(number) else {
                throw .invalidFormBody([("limit", number < 1 ? "NUMBER_TYPE_MIN" : "NUMBER_TYPE_MAX", "int value should be between 1 and 200.")])
            }
            limit = number
        }
        var bounds: [String: UInt64] = [:]
        for name in ["before", "after"] {
            guard let text = value(name) else { continue }
            guard let id = UInt64(text) else { throw .invalidFormBody([(name, "NUMBER_TYPE_COERCE", "Value \"\(text)\" is not snowflake.")]) }
            bounds[name] = id
        }
        let withCounts = SimulatedAPI.isTrue(value("with_counts"))
        let world = configuration.world
        var entries = (user.map { guilds.memberships(of: $0.id) } ?? world.guilds.indices.map { index in
            (index, [world.botRoleID(of: world.guilds[index])], false)
        }).map { (index: $0.0, roles: $0.1, isOwner: $0.2) }
        entries = entries.filter { entry in
            let id = world.guilds[entry.index].id.rawValue
            return id < (bounds["before"] ?? .max) && id > (bounds["after"] ?? 0)
        }.sorted { world.guilds[$0.index].id.rawValue < world.guilds[$1.index].id.rawValue }
        // Paging back from `before` gives the guilds nearest to it.
        let page = bounds["before"] != nil && bounds["after"] == nil ? Array(entries.suffix(limit)) : Array(entries.prefix(limit))
        let objects = page.map { membership in
            let guild = world.guilds[membership.index]
            let permissions = world.permissions(of: guild, roles: membership.roles, isOwner: membership.isOwner)
            var counts = ""
            if withCounts {
                let members = (guilds.snapshot(of: guild.id)?.memberCount ?? guild.members.count) + 1
                counts = #","approximate_member_count":\#(members),"approximate_presence_count":\#(members / 4)"#
            }
            return #"{"id":"\#(guild.id)","name":"Guild \#(membership.index + 1)","icon":null,"banner":null,"owner":\#(membership.isOwner),"permissions":"\#(permissions.rawValue)","features":\#(world.featuresJSON(of: guild))\#(counts)}"#
        }
        return "[" + objects.joined(separator: ",") + "]"
    }

    private static func randomToken(_ length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<length).map { _ in alphabet.randomElement()! })
    }
}
