import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Answers to interactions as Discord gives them: the callback's `with_response` object names the
/// interaction's own type and the message created or updated, and edits of a response are checked
/// like any message.
struct InteractionResponseTests {
    @Test func theCallbackResponseNamesTheInteractionAndItsMessage() async throws {
        let (server, client) = try await RESTEndpointTests.start()
        let guild = RESTEndpointTests.cast.guild
        let channel = try #require(guild.channels.first)
        let interactions = server.api.interactions
        interactions.register(id: 1_001, token: "command", guild: guild.id, channel: channel, at: server.api.rateLimits.now)
        interactions.register(id: 1_002, token: "button", guild: guild.id, channel: channel, componentMessage: 555, at: server.api.rateLimits.now)

        let answered = try await client.send(
            "POST", "/interactions/1001/command/callback?with_response=true", json: ["type": 4, "data": ["content": "Level 7"]])
        #expect(answered.status == 200, "\(answered.text)")
        #expect((answered.object["interaction"] as? [String: Any])?["type"] as? Int == 2)
        let created = try #require((answered.object["resource"] as? [String: Any])?["message"] as? [String: Any])
        #expect(created["content"] as? String == "Level 7" && created["channel_id"] as? String == channel.description)
        #expect(created["webhook_id"] as? String == String(server.configuration.applicationID))

        let updated = try await client.send(
            "POST", "/interactions/1002/button/callback?with_response=true", json: ["type": 7, "data": ["content": "Page 2"]])
        #expect((updated.object["interaction"] as? [String: Any])?["type"] as? Int == 3, "a button click is a component interaction")
        let message = try #require((updated.object["resource"] as? [String: Any])?["message"] as? [String: Any], "\(updated.text)")
        #expect(message["id"] as? String == "555" && message["content"] as? String == "Page 2")
        #expect(message["edited_timestamp"] is String)

        let application = server.configuration.applicationID
        let tooLong = try await client.send(
            "PATCH", "/webhooks/\(application)/command/messages/@original", json: ["content": String(repeating: "a", count: 2_001)])
        #expect(tooLong.status == 400 && RESTEndpointTests.firstError(tooLong, ["content"]) == "BASE_TYPE_MAX_LENGTH")
        let onlyComponents = try await client.send("PATCH", "/webhooks/\(application)/command/messages/@original", json: ["components": [Any]()])
        #expect(onlyComponents.status == 200, "an edit may leave the content as it is")
        try await server.stop()
    }

    /// Edits of a response or a follow-up change what they send and keep the rest; a deferred
    /// response's "thinking" message becomes the answer when edited.
    @Test func editsChangeOnlyWhatTheySend() async throws {
        let (server, client) = try await RESTEndpointTests.start()
        let guild = RESTEndpointTests.cast.guild
        let channel = try #require(guild.channels.first)
        let interactions = server.api.interactions
        let now = server.api.rateLimits.now
        interactions.register(id: 2_001, token: "answered", guild: guild.id, channel: channel, at: now)
        interactions.register(id: 2_002, token: "deferred", guild: guild.id, channel: channel, at: now)
        let application = server.configuration.applicationID
        let embed: [String: Any] = ["title": "Rank"]

        #expect(try await client.send("POST", "/interactions/2001/answered/callback", json: ["type": 4, "data": ["content": "Level 7", "embeds": [embed]]]).status == 204)
        let edited = try await client.send("PATCH", "/webhooks/\(application)/answered/messages/@original", json: ["content": "Level 8"])
        #expect(edited.object["content"] as? String == "Level 8")
        #expect((edited.object["embeds"] as? [[String: Any]])?.first?["title"] as? String == "Rank", "the embed was not sent again: it stays")
        #expect(edited.object["edited_timestamp"] is String)

        let followup = try await client.send("POST", "/webhooks/\(application)/answered", json: ["content": "Also", "embeds": [embed]])
        let followupID = try #require(followup.object["id"] as? String)
        let cleared = try await client.send("PATCH", "/webhooks/\(application)/answered/messages/\(followupID)", json: ["embeds": NSNull()])
        #expect(cleared.object["content"] as? String == "Also" && (cleared.object["embeds"] as? [Any])?.isEmpty == true)
        #expect(cleared.object["id"] as? String == followupID)

        #expect(try await client.send("POST", "/interactions/2002/deferred/callback", json: ["type": 5, "data": ["flags": 64]]).status == 204)
        let answer = try await client.send("PATCH", "/webhooks/\(application)/deferred/messages/@original", json: ["content": "Done"])
        #expect(answer.object["content"] as? String == "Done" && answer.object["flags"] as? Int == 64, "ephemeral kept, loading gone")
        try await server.stop()
    }
}
