import DiscordModels
import Foundation
import Testing
@testable import DiscordSimulator

/// Every identify mistake gets the close code Discord sends, checked with a plain WebSocket client.
@Suite(.enabled(if: DiscordPy.isConfigured, "set KAMII_PYTHON to a Python with aiohttp (ops/test does)"))
struct GatewayCloseCodeTests {
    @Test func identifyMistakesGetDiscordsCloseCodes() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 3, userCount: 100, seed: 1), dispatchesPerSecond: 0))
        let output = try await DiscordPy.runScript("close_codes.py", [server.gatewayURL + "/", server.configuration.token])
        let codes = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Int])
        #expect(codes == [
            "bad_token": Int(GatewayCloseCode.authenticationFailed.rawValue),
            "invalid_intents": Int(GatewayCloseCode.invalidIntents.rawValue),
            "disallowed_intents": Int(GatewayCloseCode.disallowedIntents.rawValue),
            "bad_shard": Int(GatewayCloseCode.invalidShard.rawValue),
            "before_identify": Int(GatewayCloseCode.notAuthenticated.rawValue),
            "second_identify": Int(GatewayCloseCode.alreadyAuthenticated.rawValue),
            "not_json": Int(GatewayCloseCode.decodeError.rawValue),
        ])
        #expect(server.record.connections.compactMap(\.closeCode).count == 7)
        try await server.stop()
    }

    @Test func shardsGetTheirGuildsByDiscordsFormula() {
        let world = TrafficWorld(guildCount: 200, userCount: 500, seed: 3)
        let payloads = WorldPayloads(configuration: SimulatorConfiguration(world: world))
        let split = (0..<4).map { payloads.guilds(shard: $0, of: 4) }
        #expect(split.map(\.count).reduce(0, +) == 200)
        for (shard, guilds) in split.enumerated() {
            #expect(guilds.allSatisfy { Int(($0.id.rawValue >> 22) % 4) == shard })
        }
    }
}
