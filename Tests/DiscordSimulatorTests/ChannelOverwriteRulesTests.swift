import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// What a bot that is not an administrator may put in a channel's permission overwrites, as
/// Discord documents it: only permissions it has (allowed or denied), Manage Roles only by an
/// administrator on a new channel, and on an existing one also what it has in the parent channel,
/// or anything once the channel gives it Manage Roles.
struct ChannelOverwriteRulesTests {
    static let manageRoles = Permissions.manageRoles.rawValue
    /// A permission the simulated bot does not have (Manage Webhooks).
    static let lacked: UInt64 = 1 << 29

    func overwrite(_ id: some CustomStringConvertible, allow: UInt64 = 0, deny: UInt64 = 0) -> [String: Any] {
        ["id": id.description, "type": 0, "allow": String(allow), "deny": String(deny)]
    }

    @Test func aNewChannelTakesOnlyPermissionsTheBotHasAndNoManageRoles() async throws {
        #expect(!Permissions.botDefault.contains(Permissions(rawValue: Self.lacked)) && !Permissions.botDefault.contains(.administrator))
        let (server, client) = try await RESTEndpointTests.start()
        let guild = RESTEndpointTests.cast.guild.id
        func create(_ overwrites: [[String: Any]]) async throws -> HTTPTestClient.Response {
            try await client.send("POST", "/guilds/\(guild)/channels", json: ["name": "locked", "permission_overwrites": overwrites])
        }
        #expect(try await create([overwrite(guild, deny: Permissions.sendMessages.rawValue)]).status == 201)
        #expect(try await create([overwrite(guild, deny: Self.lacked)]).object["code"] as? Int == 50013, "denying what the bot lacks")
        #expect(try await create([overwrite(guild, allow: Self.manageRoles)]).object["code"] as? Int == 50013, "Manage Roles, allowed")
        #expect(try await create([overwrite(guild, deny: Self.manageRoles)]).object["code"] as? Int == 50013, "Manage Roles, denied")
        try await server.stop()
    }

    @Test func anExistingChannelAlsoTakesWhatTheParentGivesOrAnythingOnceItGivesManageRoles() async throws {
        let (server, client) = try await RESTEndpointTests.start()
        let cast = RESTEndpointTests.cast
        let (guild, bot) = (cast.guild.id, cast.botRole.id)
        func create(_ json: [String: Any]) async throws -> String {
            let response = try await client.send("POST", "/guilds/\(guild)/channels", json: json)
            return try #require(response.object["id"] as? String, "\(response.object)")
        }
        func modify(_ channel: String, _ overwrites: [[String: Any]]) async throws -> Int? {
            let response = try await client.send("PATCH", "/channels/\(channel)", json: ["permission_overwrites": overwrites])
            return response.status == 200 ? 0 : response.object["code"] as? Int
        }
        let category = try await create(["name": "staff", "type": 4])
        let child = try await create(["name": "mod-log", "type": 0, "parent_id": category])

        #expect(try await modify(child, [overwrite(guild, deny: Self.lacked)]) == 50013, "not held in the guild, nor in the parent")
        // The category gives the bot Manage Roles (it holds that in the guild); then anything goes there.
        #expect(try await modify(category, [overwrite(bot, allow: Self.manageRoles)]) == 0)
        #expect(try await modify(category, [overwrite(bot, allow: Self.manageRoles | Self.lacked)]) == 0)
        // Now the parent holds the lacked permission for the bot: the child may deny it.
        #expect(try await modify(child, [overwrite(guild, deny: Self.lacked)]) == 0)
        // A channel elsewhere still may not.
        let other = try await create(["name": "general-2", "type": 0])
        #expect(try await modify(other, [overwrite(guild, deny: Self.lacked)]) == 50013)
        try await server.stop()
    }

    @Test func aRequestLevelFormErrorSitsDirectlyUnderErrors() async throws {
        let (server, client) = try await RESTEndpointTests.start()
        let guild = RESTEndpointTests.cast.guild.id
        let notAnObject = try await client.send("POST", "/guilds/\(guild)/channels", json: ["a", "b"])
        #expect(notAnObject.status == 400 && notAnObject.object["code"] as? Int == 50035)
        let errors = try #require(notAnObject.object["errors"] as? [String: Any])
        #expect(Array(errors.keys) == ["_errors"], "Discord's request error: errors._errors, not errors._errors._errors")
        #expect(((errors["_errors"] as? [[String: Any]])?.first?["code"] as? String) == "DICT_TYPE_CONVERT")
        try await server.stop()
    }
}
