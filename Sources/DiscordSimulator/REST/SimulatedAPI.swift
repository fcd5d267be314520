import DiscordModels
import Foundation
import NIOHTTP1
import Synchronization

/// The simulated REST API under `/api/v10`, shared by every HTTP connection: authentication,
/// Discord's rate limits, the endpoints a bot calls (with Discord's checks and error JSON), the
/// dispatches those calls cause on the gateway, and a record of every call.
final class SimulatedAPI: Sendable {
    let configuration: SimulatorConfiguration
    let record: SimulatorRecord
    let gatewayURL: String
    let identifyLimiter: IdentifyLimiter
    let rateLimits: RateLimitModel
    let guilds: GuildStates
    let interactions: InteractionRegistry
    let oauth: OAuth2Service
    let sessions: SessionRegistry
    let commands = CommandStore()
    let nonces = MessageNonces()
    /// Numbers the messages REST creates.
    let messageCounter = Atomic<UInt64>(0)
    /// Injects a fault on the sessions (all, or the one named); returns how many it reached.
    let injectFault: @Sendable (SimulatorFault, String?) -> Int

    init(
        configuration: SimulatorConfiguration, record: SimulatorRecord, gatewayURL: String, identifyLimiter: IdentifyLimiter,
        guilds: GuildStates, interactions: InteractionRegistry, rateLimits: RateLimitModel, sessions: SessionRegistry,
        injectFault: @escaping @Sendable (SimulatorFault, String?) -> Int
    ) {
        self.configuration = configuration
        self.record = record
        self.gatewayURL = gatewayURL
        self.identifyLimiter = identifyLimiter
        self.rateLimits = rateLimits
        self.guilds = guilds
        self.interactions = interactions
        oauth = OAuth2Service(configuration: configuration, guilds: guilds)
        self.sessions = sessions
        self.injectFault = injectFault
    }

    /// Answers one request and records it.
    func respond(method: String, uri: String, headers: HTTPHeaders, body: [UInt8]) -> RESTResponse {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        let query = URLComponents(string: uri)?.queryItems ?? []
        let now = rateLimits.now
        var call = RESTCall(
            method: method, path: path, query: uri.split(separator: "?", maxSplits: 1).dropFirst().first.map(String.init), route: nil, status: 0, at: now, bucket: nil, scope: nil,
            auditLogReason: headers.first(name: "X-Audit-Log-Reason").map { $0.removingPercentEncoding ?? $0 },
            userAgent: headers.first(name: "User-Agent"),
            body: String(decoding: body, as: UTF8.self))
        let response = answer(method: method, path: path, query: query, headers: headers, body: body, call: &call)
        call.status = response.status
        record.recordREST(call)
        return response
    }

    private func answer(
        method: String, path: String, query: [URLQueryItem], headers: HTTPHeaders, body: [UInt8], call: inout RESTCall
    ) -> RESTResponse {
        if path.hasPrefix("/_simulator/"), method == "POST" {
            return ControlCommands.respond(path: path, query: query, api: self)
        }
        // Cloudflare bans the address: every request gets the same answer, authorized, routed or not.
        if rateLimits.isBanned() { return Self.banned }
        if path == "/oauth2/authorize", method == "GET" { return oauth.authorize(query) }
        guard path.hasPrefix("/api/v10/") else { return .error(404, DiscordError(code: 0, message: "404: Not Found")) }
        let apiPath = String(path.dropFirst("/api/v10".count))
        if apiPath.hasPrefix("/oauth2/token"), method == "POST" {
            return oauth.token(path: apiPath, headers: headers, body: body)
        }
        guard let route = RESTRoute.match(method: method, path: apiPath) else {
            return .error(404, DiscordError(code: 0, message: "404: Not Found"))
        }
        call.route = route.template
        call.bucket = RateLimitModel.bucketHash(route.bucketGroup)

        let authorization = headers.first(name: "Authorization") ?? ""
        // Discord wants the `identify` scope for /users/@me and `guilds` for /users/@me/guilds.
        let scope = route.endpoint == .currentUserGuilds ? "guilds" : "identify"
        let bearerUser = authorization.hasPrefix("Bearer ") ? oauth.user(forAccessToken: String(authorization.dropFirst(7)), scope: scope) : nil
        let isBot = authorization == "Bot \(configuration.token)" && identifyLimiter.tokenIsValid
        let authorized = switch route.endpoint {
        case _ where route.isInteractionEndpoint: true
        case .gateway: true
        case .currentUser, .currentUserGuilds: isBot || bearerUser != nil
        default: isBot
        }
        guard authorized else {
            rateLimits.count(status: 401, scope: nil)
            return .error(401, DiscordError(code: 0, message: "401: Unauthorized"))
        }

        var rateLimitHeaders: [(String, String)] = []
        // Limits are per token: the bot's, or an OAuth2 user's (the interaction webhooks are the app's).
        let caller = bearerUser.map { "user:\($0.id)" } ?? "bot"
        switch rateLimits.admit(route, caller: caller) {
        case .banned:
            return Self.banned
        case .limited(let limited):
            call.scope = limited.scope
            rateLimits.count(status: 429, scope: limited.scope)
            return Self.rateLimited(limited)
        case .allowed(let headers):
            rateLimitHeaders = headers
        }

        let serverError = rateLimits.takeServerError()
        if let serverError, !serverError.applied {
            // Failed before it reached the service (a gateway or an upstream down): nothing applied.
            rateLimits.count(status: serverError.status, scope: nil)
            return Self.serverError(serverError.status)
        }
        var response: RESTResponse
        do {
            let json = try Self.parse(body, contentType: headers.first(name: "Content-Type"))
            // One call at a time, its change and its dispatches together: two calls on one guild
            // (a lockdown, then its lifting) reach every session in the order they were made, and
            // a session starting meanwhile either adopted the change or is delivered it.
            response = try sessions.inChangeOrder { () throws(DiscordError) in
                try handle(route, json: json, query: query, bearerUser: bearerUser, reason: call.auditLogReason)
            }
        } catch {
            response = .error(Self.status(of: error), error)
        }
        rateLimits.count(status: response.status, scope: nil)
        response.headers += rateLimitHeaders
        // Applied, but the client hears only that the server failed.
        if let serverError { return Self.serverError(serverError.status) }
        return response
    }

    private static func serverError(_ status: Int) -> RESTResponse {
        .error(status, DiscordError(code: 0, message: "\(status): \(HTTPResponseStatus(statusCode: status).reasonPhrase)"))
    }

    private func handle(
        _ route: RESTRoute, json: Any?, query: [URLQueryItem], bearerUser: TrafficWorld.User?, reason: String?
    ) throws(DiscordError) -> RESTResponse {
        let payloads = WorldPayloads(configuration: configuration)
        switch route.endpoint {
        case .gateway:
            return .json(200, #"{"url":"\#(gatewayURL)"}"#)
        case .gatewayBot:
            let shards = max(1, (configuration.world.guilds.count + 999) / 1_000)
            return .json(200, #"{"url":"\#(gatewayURL)","shards":\#(configuration.recommendedShards ?? shards),"session_start_limit":\#(identifyLimiter.sessionStartLimitJSON)}"#)
        case .currentUser:
            if let bearerUser { return .json(200, oauth.userJSON(bearerUser)) }
            return .json(200, payloads.botUser)
        case .currentUserGuilds:
            return .json(200, try oauth.guildsJSON(of: bearerUser, query: query))
        case .currentApplication:
            return .json(200, payloads.application)
        case .createMessage:
            return try createMessage(route, json)
        case .createDM:
            return try createDM(json)
        case .addMemberRole, .removeMemberRole:
            return try changeRole(route, adding: route.endpoint == .addMemberRole)
        case .getMember:
            return try getMember(route)
        case .modifyMember:
            return try modifyMember(route, json)
        case .kickMember:
            return try kick(route)
        case .ban:
            return try ban(route, json, query: query)
        case .unban:
            return try unban(route)
        case .bulkBan:
            return try bulkBan(route, json)
        case .createChannel:
            return try createChannel(route, json)
        case .modifyChannel:
            return try modifyChannel(route, json)
        case .deleteChannel:
            return try deleteChannel(route)
        case .overwriteGlobalCommands, .overwriteGuildCommands:
            return try overwriteCommands(route, json)
        case .interactionCallback:
            return try interactionCallback(route, json, query: query)
        case .createFollowup, .editFollowup, .deleteFollowup:
            return try followup(route, json)
        }
    }

    /// Sends a dispatch caused by a REST call to every session serving the guild, and changes
    /// their traffic to match (a removed member no longer posts; an updated one shows new roles, and
    /// does not act while timed out; nothing is posted in a deleted channel).
    func broadcast(_ name: String, _ data: [String: Any], guild: GuildID, change: TrafficChange? = nil) {
        broadcast([(name, data, change)], guild: guild)
    }

    /// Sends the dispatches of one REST call together: each session takes them, and their changes
    /// to its traffic, in one step.
    func broadcast(_ events: [(name: String, data: [String: Any], change: TrafficChange?)], guild: GuildID) {
        let encoded = events.map { event in
            (event.name, Array((try? JSONSerialization.data(withJSONObject: event.data, options: [.sortedKeys])) ?? Data()), event.change)
        }
        for session in sessions.all where !session.isEnded {
            session.deliver(encoded, guild: guild)
        }
    }

    /// What a banned address gets: Cloudflare's page, not Discord's JSON.
    static let banned = RESTResponse(status: 429, headers: [("Content-Type", "text/plain")], body: "error code: 1015")

    static func rateLimited(_ limited: RateLimitModel.RateLimited) -> RESTResponse {
        let retryAfter = (min(max(limited.retryAfter, 0), 86_400) * 1_000).rounded(.up) / 1_000
        var headers = limited.headers + [
            ("Retry-After", String(Int(retryAfter.rounded(.up)))),
            ("X-RateLimit-Scope", limited.scope),
        ]
        if limited.isGlobal { headers.append(("X-RateLimit-Global", "true")) }
        // Discord's words differ for a shared resource's limit.
        let message = limited.scope == "shared" ? "The resource is being rate limited." : "You are being rate limited."
        let body = #"{"message":"\#(message)","retry_after":\#(retryAfter),"global":\#(limited.isGlobal)}"#
        return RESTResponse(status: 429, headers: headers, body: body)
    }

    /// The content types Discord reads a body as (a body without one is refused, whatever it holds).
    static let bodyContentTypes: Set<String> = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data"]

    static func parse(_ body: [UInt8], contentType: String?) throws(DiscordError) -> Any? {
        guard !body.isEmpty else { return nil }
        let mediaType = contentType?.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard let mediaType, bodyContentTypes.contains(mediaType) else {
            throw .invalidFormBody([("", "CONTENT_TYPE_INVALID",
                #"Expected "Content-Type" header to be one of {'application/json', 'application/x-www-form-urlencoded', 'multipart/form-data'}."#)])
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            throw .invalidJSON
        }
    }

    static func status(of error: DiscordError) -> Int {
        switch error.code {
        case 10003, 10004, 10007, 10008, 10011, 10013, 10015, 10026, 10062: 404
        case 50001, 50007, 50013: 403
        default: 400
        }
    }

    static func encode(_ object: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }
}
