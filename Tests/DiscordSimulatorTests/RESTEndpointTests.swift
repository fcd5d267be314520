import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// The endpoints a bot calls answer as Discord does: bodies validated into 50035 field errors,
/// permissions and the role hierarchy enforced (50013), unknown things named (10003, 10007, …),
/// and every change kept so later calls see it.
struct RESTEndpointTests {
    static let world = TrafficWorld(guildCount: 8, userCount: 400, seed: 41)

    /// A guild with plain roles, Moderator and Admin, and who in it holds what.
    struct Cast {
        let guild: TrafficWorld.Guild
        let owner: UserID
        let plain: [UserID]
        let admin: TrafficWorld.RoleInfo
        let plainRole: TrafficWorld.RoleInfo
        let plainRoles: [TrafficWorld.RoleInfo]
        let botRole: TrafficWorld.RoleInfo
        let world: TrafficWorld

        func initialRoles(of user: UserID) -> [RoleID] {
            let slot = guild.members.firstIndex { world.users[$0].id == user }!
            return world.initialRoles(of: guild, slot: slot)
        }
    }

    static var cast: Cast { cast(in: world) }

    static func cast(in world: TrafficWorld) -> Cast {
        let guild = world.guilds.first { $0.roles.count >= 4 && $0.members.count >= 8 }!
        let roles = world.roles(of: guild)
        let admin = roles.first { $0.name == "Admin" }!
        let moderator = roles.first { $0.name == "Moderator" }!
        let plain = guild.members.indices.dropFirst().filter { slot in
            let held = world.initialRoles(of: guild, slot: slot)
            return !held.contains(admin.id) && !held.contains(moderator.id)
        }.map { world.users[guild.members[$0]].id }
        return Cast(
            guild: guild, owner: world.users[guild.members[0]].id, plain: plain, admin: admin,
            plainRole: roles.first { $0.name.hasPrefix("role-") }!, plainRoles: roles.filter { $0.name.hasPrefix("role-") },
            botRole: roles.first(where: \.managed)!, world: world)
    }

    static func start() async throws -> (SimulatorServer, HTTPTestClient) {
        var configuration = SimulatorConfiguration(world: world, dispatchesPerSecond: 0)
        // These tests check endpoints, not limits (RESTRateLimitTests does): every bucket allows
        // far more than a test sends, so no answer depends on how fast the machine runs them.
        let generous = RESTLimits.defaults.mapValues { _ in RESTLimits.Bucket(limit: 10_000, seconds: 1) }
        configuration.restLimits = RESTLimits(globalPerSecond: 10_000, overrides: generous)
        let server = try await SimulatorServer.start(configuration)
        return (server, HTTPTestClient(base: server.apiBaseURL, token: configuration.token))
    }

    static func firstError(_ response: HTTPTestClient.Response, _ path: [String]) -> String? {
        var node: Any? = response.object["errors"]
        for key in path { node = (node as? [String: Any])?[key] }
        return ((node as? [String: Any])?["_errors"] as? [[String: Any]])?.first?["code"] as? String
    }

    @Test func messagesAreValidatedAndChannelOverwritesApply() async throws {
        let (server, client) = try await Self.start()
        let channel = Self.cast.guild.channels[0]
        let long = try await client.send("POST", "/channels/\(channel)/messages", json: ["content": String(repeating: "a", count: 2_001)])
        #expect(long.status == 400 && long.object["code"] as? Int == 50035 && long.object["message"] as? String == "Invalid Form Body")
        #expect(Self.firstError(long, ["content"]) == "BASE_TYPE_MAX_LENGTH")
        let title = try await client.send("POST", "/channels/\(channel)/messages", json: ["embeds": [["title": String(repeating: "t", count: 300)]]])
        #expect(Self.firstError(title, ["embeds", "0", "title"]) == "BASE_TYPE_MAX_LENGTH")
        let button = try await client.send("POST", "/channels/\(channel)/messages", json: [
            "content": "x", "components": [["type": 1, "components": [["type": 2, "style": 1, "label": "Go"]]]],
        ])
        #expect(Self.firstError(button, ["components", "0", "components", "0", "custom_id"]) == "BASE_TYPE_REQUIRED")
        #expect(try await client.send("POST", "/channels/\(channel)/messages", json: [String: Any]()).object["code"] as? Int == 50006)
        // The nonce comes back as it was sent, a string or an integer.
        #expect(try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "x", "nonce": "n-1"]).object["nonce"] as? String == "n-1")
        #expect(try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "x", "nonce": 77]).object["nonce"] as? Int == 77)
        #expect(try await client.send("POST", "/channels/1/messages", json: ["content": "x"]).object["code"] as? Int == 10003)
        let notSnowflake = try await client.send("POST", "/channels/general/messages", json: ["content": "x"])
        #expect(Self.firstError(notSnowflake, ["channel_id"]) == "NUMBER_TYPE_COERCE")
        let json = ["Content-Type": "application/json"]
        let broken = try await client.send("POST", "/channels/\(channel)/messages", body: Data("{\"content\":".utf8), headers: json)
        #expect(broken.status == 400 && broken.object["code"] as? Int == 50109)
        // A body is read by its Content-Type: JSON under another is refused, not guessed at.
        let body = Data(#"{"content": "x"}"#.utf8)
        let plain = try await client.send("POST", "/channels/\(channel)/messages", body: body, headers: ["Content-Type": "text/plain"])
        #expect(plain.status == 400 && plain.object["code"] as? Int == 50035 && Self.firstError(plain, []) == "CONTENT_TYPE_INVALID")
        let charset = try await client.send("POST", "/channels/\(channel)/messages", body: body, headers: ["Content-Type": "Application/JSON; charset=utf-8"])
        #expect(charset.status == 200, "\(charset.object)")

        // @everyone may not send in the new channel; the bot's role gets it back with its own overwrite.
        let guild = Self.cast.guild.id
        let created = try await client.send("POST", "/guilds/\(guild)/channels", json: [
            "name": "mod-log", "type": 0, "permission_overwrites": [["id": guild.description, "type": 0, "allow": "0", "deny": "2048"]],
        ])
        #expect(created.status == 201)
        let newChannel = try #require(created.object["id"] as? String)
        let denied = try await client.send("POST", "/channels/\(newChannel)/messages", json: ["content": "x"])
        #expect(denied.status == 403 && denied.object["code"] as? Int == 50013)
        let modified = try await client.send("PATCH", "/channels/\(newChannel)", json: ["permission_overwrites": [
            ["id": guild.description, "type": 0, "allow": "0", "deny": "2048"],
            ["id": Self.cast.botRole.id.description, "type": 0, "allow": "2048", "deny": "0"],
        ]])
        #expect(modified.status == 200 && (modified.object["permission_overwrites"] as? [Any])?.count == 2)
        #expect(try await client.send("POST", "/channels/\(newChannel)/messages", json: ["content": "x"]).status == 200)
        let tooGenerous = try await client.send("PATCH", "/channels/\(newChannel)", json: ["permission_overwrites": [
            ["id": guild.description, "type": 0, "allow": "8", "deny": "0"],
        ]])
        #expect(tooGenerous.object["code"] as? Int == 50013, "an overwrite cannot grant administrator the bot lacks")
        #expect(try await client.send("DELETE", "/channels/\(newChannel)").status == 200)
        #expect(try await client.send("POST", "/channels/\(newChannel)/messages", json: ["content": "x"]).object["code"] as? Int == 10003)
        let category = try #require(try await client.send("POST", "/guilds/\(guild)/channels", json: ["name": "staff", "type": 4]).object["id"] as? String)
        let inCategory = try await client.send("POST", "/channels/\(category)/messages", json: ["content": "x"])
        #expect(inCategory.status == 400 && inCategory.object["code"] as? Int == 50008, "a category holds no messages")
        // A bot cannot grant what it lacks (administrator) in an overwrite.
        let grant = try await client.send("POST", "/guilds/\(guild)/channels", json: [
            "name": "x", "permission_overwrites": [["id": guild.description, "type": 0, "allow": "8", "deny": "0"]],
        ])
        #expect(grant.object["code"] as? Int == 50013)
        try await server.stop()
    }

    @Test func membersFollowPermissionsAndTheRoleHierarchy() async throws {
        let (server, client) = try await Self.start()
        let cast = Self.cast
        let guild = cast.guild.id
        let target = try #require(cast.plain.first)
        #expect(try await client.send("GET", "/guilds/\(guild)/members/1234567").object["code"] as? Int == 10007)
        let member = try await client.send("GET", "/guilds/\(guild)/members/\(target)")
        #expect(member.status == 200 && (member.object["user"] as? [String: Any])?["id"] as? String == target.description)

        #expect(try await client.send("PUT", "/guilds/\(guild)/members/\(target)/roles/\(cast.admin.id)").object["code"] as? Int == 50013)
        #expect(try await client.send("PUT", "/guilds/\(guild)/members/\(target)/roles/\(cast.botRole.id)").object["code"] as? Int == 50013)
        #expect(try await client.send("PUT", "/guilds/\(guild)/members/\(target)/roles/999").object["code"] as? Int == 10011)
        #expect(try await client.send("PUT", "/guilds/\(guild)/members/\(target)/roles/\(cast.plainRole.id)").status == 204)
        let roles = try await client.send("GET", "/guilds/\(guild)/members/\(target)").object["roles"] as? [String]
        #expect(roles?.contains(cast.plainRole.id.description) == true)
        // A role list's IDs as strings or JSON integers, as Discord takes them; anything else is
        // refused by name, not dropped (which would take the member's roles away).
        let numeric = try await client.send("PATCH", "/guilds/\(guild)/members/\(target)", json: ["roles": [cast.plainRole.id.rawValue]])
        #expect(numeric.status == 200 && numeric.object["roles"] as? [String] == [cast.plainRole.id.description], "\(numeric.text)")
        let odd = try await client.send("PATCH", "/guilds/\(guild)/members/\(target)", json: ["roles": [cast.plainRole.id.description, true, 1.5]])
        #expect(Self.firstError(odd, ["roles", "1"]) == "NUMBER_TYPE_COERCE" && Self.firstError(odd, ["roles", "2"]) == "NUMBER_TYPE_COERCE")
        #expect(try await client.send("GET", "/guilds/\(guild)/members/\(target)").object["roles"] as? [String] == [cast.plainRole.id.description])

        let tooLong = ISO8601DateFormatter().string(from: Date().addingTimeInterval(29 * 86_400))
        let far = try await client.send("PATCH", "/guilds/\(guild)/members/\(target)", json: ["communication_disabled_until": tooLong])
        #expect(Self.firstError(far, ["communication_disabled_until"]) == "COMMUNICATION_DISABLED_TIMESTAMP_TOO_FAR")
        let hour = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3_600))
        let timedOut = try await client.send("PATCH", "/guilds/\(guild)/members/\(target)", json: ["communication_disabled_until": hour])
        // Written back as Discord writes timestamps, not as sent.
        let written = hour.replacingOccurrences(of: "Z", with: ".000000+00:00")
        #expect(timedOut.status == 200 && timedOut.object["communication_disabled_until"] as? String == written, "\(timedOut.text)")
        let ownerTimeout = try await client.send("PATCH", "/guilds/\(guild)/members/\(cast.owner)", json: ["communication_disabled_until": hour])
        #expect(ownerTimeout.object["code"] as? Int == 50013)

        #expect(try await client.send("DELETE", "/guilds/\(guild)/members/\(cast.owner)").object["code"] as? Int == 50013)
        let kick = try await client.send("DELETE", "/guilds/\(guild)/members/\(target)", headers: ["X-Audit-Log-Reason": "spam%20%E2%9C%93"])
        #expect(kick.status == 204)
        #expect(try await client.send("GET", "/guilds/\(guild)/members/\(target)").object["code"] as? Int == 10007)
        #expect(server.record.rest.last { $0.method == "DELETE" && $0.status == 204 }?.auditLogReason == "spam ✓")
        #expect(server.record.rest.last { $0.method == "DELETE" }?.route == "DELETE /guilds/{guild.id}/members/{user.id}")
        try await server.stop()
    }

    @Test func bansUnbansAndBulkBans() async throws {
        let (server, client) = try await Self.start()
        let cast = Self.cast
        let guild = cast.guild.id
        let (first, second) = (cast.plain[0], cast.plain[1])
        let week = try await client.send("PUT", "/guilds/\(guild)/bans/\(first)", json: ["delete_message_seconds": 700_000])
        #expect(Self.firstError(week, ["delete_message_seconds"]) == "NUMBER_TYPE_MAX")
        #expect(try await client.send("PUT", "/guilds/\(guild)/bans/\(first)", json: ["delete_message_seconds": 3_600]).status == 204)
        #expect(try await client.send("GET", "/guilds/\(guild)/members/\(first)").object["code"] as? Int == 10007)
        #expect(try await client.send("PUT", "/guilds/\(guild)/bans/77").object["code"] as? Int == 10013)
        #expect(try await client.send("DELETE", "/guilds/\(guild)/bans/\(first)").status == 204)
        #expect(try await client.send("DELETE", "/guilds/\(guild)/bans/\(first)").object["code"] as? Int == 10026)

        let many = (0..<201).map { String(1_000 + $0) }
        #expect(Self.firstError(try await client.send("POST", "/guilds/\(guild)/bulk-ban", json: ["user_ids": many]), ["user_ids"]) == "BASE_TYPE_MAX_LENGTH")
        let bulk = try await client.send("POST", "/guilds/\(guild)/bulk-ban", json: ["user_ids": [second.description, cast.owner.description, "999"]])
        #expect(bulk.status == 200)
        #expect(bulk.object["banned_users"] as? [String] == [second.description])
        #expect(bulk.object["failed_users"] as? [String] == [cast.owner.description, "999"])
        let none = try await client.send("POST", "/guilds/\(guild)/bulk-ban", json: ["user_ids": [cast.owner.description]])
        #expect(none.status == 400 && none.object["code"] as? Int == 500000)
        // Already banned — before, or earlier in the same list — is a failure, not a second ban.
        let third = cast.plain[2].description
        let again = try await client.send("POST", "/guilds/\(guild)/bulk-ban", json: ["user_ids": [third, second.description, third]])
        #expect(again.object["banned_users"] as? [String] == [third])
        #expect(again.object["failed_users"] as? [String] == [second.description, third])
        let allBanned = try await client.send("POST", "/guilds/\(guild)/bulk-ban", json: ["user_ids": [second.description, third]])
        #expect(allBanned.object["code"] as? Int == 500000)
        try await server.stop()
    }

    @Test func commandsDirectMessagesAndTheApplication() async throws {
        let (server, client) = try await Self.start()
        let application = server.configuration.applicationID
        let invalid = try await client.send("PUT", "/applications/\(application)/commands", json: [["name": "Rank", "description": "x"]])
        #expect(Self.firstError(invalid, ["0", "name"]) == "APPLICATION_COMMAND_INVALID_NAME")
        let commands: [[String: Any]] = [["name": "rank", "description": "Show a rank"], ["name": "warn", "description": "Warn a member"]]
        let first = try await client.send("PUT", "/applications/\(application)/commands", json: commands)
        let again = try await client.send("PUT", "/applications/\(application)/commands", json: commands)
        let ids = { (response: HTTPTestClient.Response) in (response.json as? [[String: Any]] ?? []).compactMap { $0["id"] as? String } }
        #expect(first.status == 200 && ids(first).count == 2 && ids(first) == ids(again), "\(first.text) \(again.text)")
        #expect(server.commandNames() == ["rank", "warn"])
        let guild = Self.cast.guild.id
        #expect(try await client.send("PUT", "/applications/\(application)/guilds/\(guild)/commands", json: [commands[0]]).status == 200)
        #expect(server.commandNames(guild: guild) == ["rank"])
        #expect(try await client.send("PUT", "/applications/1/commands", json: commands).object["code"] as? Int == 50001)
        let userCommands = (0..<16).map { ["name": "User \($0)", "type": 2] as [String: Any] }
        let tooMany = try await client.send("PUT", "/applications/\(application)/commands", json: userCommands)
        #expect(tooMany.status == 400 && tooMany.object["code"] as? Int == 30032)
        #expect(server.commandNames() == ["rank", "warn"], "a refused overwrite changes nothing")

        // One user in ten has DMs closed (50007); the others can be written to.
        let closed = try #require(Self.world.users.first { !$0.isBot && !SimulatedAPI.acceptsDirectMessages($0) })
        let open = try #require(Self.world.users.first { SimulatedAPI.acceptsDirectMessages($0) })
        for (user, expected) in [(closed, 403), (open, 200)] {
            let dm = try await client.send("POST", "/users/@me/channels", json: ["recipient_id": user.id.description])
            #expect(dm.status == 200 && dm.object["type"] as? Int == 1)
            let channel = try #require(dm.object["id"] as? String)
            #expect(try await client.send("POST", "/channels/\(channel)/messages", json: ["content": "You were warned"]).status == expected)
        }
        // Every user has a DM channel of their own, the same each time.
        let users = Self.world.users.prefix(5).map(\.id.description)
        var dmIDs: [String] = []
        for user in users + [users[0]] {
            dmIDs.append(try await client.send("POST", "/users/@me/channels", json: ["recipient_id": user]).object["id"] as? String ?? "")
        }
        #expect(Set(dmIDs.prefix(5)).count == 5 && dmIDs[5] == dmIDs[0])
        let app = try await client.send("GET", "/oauth2/applications/@me")
        #expect(app.object["id"] as? String == String(application))
        try await server.stop()
    }

    @Test func oauth2SignsInTheTestUserAndListsTheirGuildsWithPermissions() async throws {
        let (server, _) = try await Self.start()
        let root = server.apiBaseURL.replacingOccurrences(of: "/api/v10", with: "")
        let web = HTTPTestClient(base: root)
        let application = server.configuration.applicationID
        let redirect = "http://127.0.0.1:9/callback"
        let authorize = try await web.send(
            "GET", "/oauth2/authorize?client_id=\(application)&response_type=code&scope=identify%20guilds&state=xyz&redirect_uri=\(redirect)")
        #expect(authorize.status == 302)
        let location = try #require(authorize.header("Location").flatMap(URLComponents.init(string:)))
        #expect(location.path == "/callback")
        #expect(location.queryItems?.first { $0.name == "state" }?.value == "xyz")
        let code = try #require(location.queryItems?.first { $0.name == "code" }?.value)

        func form(_ fields: [String: String]) -> Data {
            Data(fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&").utf8)
        }
        let api = HTTPTestClient(base: server.apiBaseURL)
        let wrongSecret = try await api.send("POST", "/oauth2/token", body: form([
            "client_id": String(application), "client_secret": "nope", "grant_type": "authorization_code", "code": code, "redirect_uri": redirect,
        ]))
        #expect(wrongSecret.status == 401)
        let exchange = [
            "client_id": String(application), "client_secret": server.configuration.clientSecret, "grant_type": "authorization_code",
            "code": code, "redirect_uri": redirect,
        ]
        let token = try await api.send("POST", "/oauth2/token", body: form(exchange))
        #expect(token.status == 200 && token.object["token_type"] as? String == "Bearer")
        let access = try #require(token.object["access_token"] as? String)
        #expect(try await api.send("POST", "/oauth2/token", body: form(exchange)).status == 400, "a code is used once")

        let me = try await api.send("GET", "/users/@me", authorization: "Bearer \(access)")
        let owner = Self.world.users[Self.world.guilds[0].members[0]]
        #expect(me.object["id"] as? String == owner.id.description)
        let guilds = try await api.send("GET", "/users/@me/guilds", authorization: "Bearer \(access)")
        let list = try #require(guilds.json as? [[String: Any]])
        let first = try #require(list.first { $0["id"] as? String == Self.world.guilds[0].id.description })
        #expect(first["owner"] as? Bool == true && first["permissions"] as? String == String(Permissions.all.rawValue))
        #expect(list.count == Self.world.guilds.filter { $0.members.contains(Self.world.userIndex(of: owner.id)!) }.count)
        #expect(try await api.send("GET", "/users/@me/guilds", authorization: "Bot wrong").status == 401)

        // A token granted only `identify` reads the user, not their guilds.
        let narrow = try await web.send("GET", "/oauth2/authorize?client_id=\(application)&response_type=code&scope=identify&redirect_uri=\(redirect)")
        let narrowCode = try #require(narrow.header("Location").flatMap(URLComponents.init(string:))?.queryItems?.first { $0.name == "code" }?.value)
        var narrowExchange = exchange
        narrowExchange["code"] = narrowCode
        let narrowToken = try #require(try await api.send("POST", "/oauth2/token", body: form(narrowExchange)).object["access_token"] as? String)
        #expect(try await api.send("GET", "/users/@me", authorization: "Bearer \(narrowToken)").status == 200)
        #expect(try await api.send("GET", "/users/@me/guilds", authorization: "Bearer \(narrowToken)").status == 401)

        let refresh = try #require(token.object["refresh_token"] as? String)
        let renewed = try await api.send("POST", "/oauth2/token", body: form([
            "client_id": String(application), "client_secret": server.configuration.clientSecret, "grant_type": "refresh_token",
            "refresh_token": refresh,
        ]))
        let newAccess = try #require(renewed.object["access_token"] as? String)
        // A refresh token is used once; a grant type Discord does not offer is refused as OAuth2 says.
        let client = ["client_id": String(application), "client_secret": server.configuration.clientSecret]
        let reused = try await api.send("POST", "/oauth2/token", body: form(client.merging(["grant_type": "refresh_token", "refresh_token": refresh]) { $1 }))
        #expect(reused.status == 400 && reused.object["error"] as? String == "invalid_grant")
        #expect((reused.object["error_description"] as? String)?.contains("refresh_token") == true, "\(reused.text)")
        let password = try await api.send("POST", "/oauth2/token", body: form(client.merging(["grant_type": "password"]) { $1 }))
        #expect(password.status == 400 && password.object["error"] as? String == "unsupported_grant_type")
        let missing = try await api.send("POST", "/oauth2/token", body: form(client))
        #expect(missing.status == 400 && missing.object["error"] as? String == "invalid_request")
        #expect(try await api.send("POST", "/oauth2/token/revoke", body: form([
            "client_id": String(application), "client_secret": server.configuration.clientSecret, "token": newAccess,
        ])).status == 200)
        #expect(try await api.send("GET", "/users/@me", authorization: "Bearer \(newAccess)").status == 401)
        // Revoking one token revokes every token of its authorization, and no other.
        #expect(try await api.send("GET", "/users/@me", authorization: "Bearer \(access)").status == 401, "the first access token too")
        let newRefresh = try #require(renewed.object["refresh_token"] as? String)
        let refreshed = try await api.send("POST", "/oauth2/token", body: form([
            "client_id": String(application), "client_secret": server.configuration.clientSecret, "grant_type": "refresh_token",
            "refresh_token": newRefresh,
        ]))
        #expect(refreshed.status == 400, "the refresh token of that authorization")
        #expect(try await api.send("GET", "/users/@me", authorization: "Bearer \(narrowToken)").status == 200, "another authorization")
        try await server.stop()
    }
}
