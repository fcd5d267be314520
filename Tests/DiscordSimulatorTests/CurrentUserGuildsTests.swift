import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// `GET /users/@me/guilds` for the bot: its guilds by ID with its permissions, paged with
/// `before` / `after` / `limit`, counts with `with_counts`.
struct CurrentUserGuildsTests {
    @Test func theBotsGuildsArePagedByID() async throws {
        let (server, client) = try await RESTEndpointTests.start()
        let world = RESTEndpointTests.world
        let ids = world.guilds.map(\.id.rawValue).sorted().map(String.init)
        func listed(_ query: String) async throws -> [[String: Any]] {
            let response = try await client.send("GET", "/users/@me/guilds" + query)
            #expect(response.status == 200, "\(query): \(response.text)")
            return response.json as? [[String: Any]] ?? []
        }
        let all = try await listed("")
        #expect(all.compactMap { $0["id"] as? String } == ids)
        #expect(all.allSatisfy { $0["owner"] as? Bool == false && $0["approximate_member_count"] == nil })
        let botRole = world.botRoleID(of: world.guilds[0])
        let first = try #require(all.first { $0["id"] as? String == world.guilds[0].id.description })
        #expect(first["permissions"] as? String == String(world.permissions(of: world.guilds[0], roles: [botRole], isOwner: false).rawValue))

        #expect(try await listed("?limit=3").compactMap { $0["id"] as? String } == Array(ids.prefix(3)))
        #expect(try await listed("?after=\(ids[2])&limit=2").compactMap { $0["id"] as? String } == Array(ids[3...4]))
        #expect(try await listed("?before=\(ids[5])&limit=2").compactMap { $0["id"] as? String } == Array(ids[3...4]), "the nearest before")
        let counted = try await listed("?with_counts=true&limit=1")
        let members = try #require(counted.first?["approximate_member_count"] as? Int)
        #expect(members == world.guilds.first { $0.id.description == ids[0] }!.members.count + 1)
        #expect(counted.first?["approximate_presence_count"] is Int)
        for bad in ["?limit=0", "?limit=201", "?limit=many", "?after=general"] {
            let refused = try await client.send("GET", "/users/@me/guilds" + bad)
            #expect(refused.status == 400 && refused.object["code"] as? Int == 50035, "\(bad)")
        }
        try await server.stop()
    }
}
