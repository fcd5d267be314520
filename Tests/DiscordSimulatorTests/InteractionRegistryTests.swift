import DiscordModels
import Testing
@testable import DiscordSimulator

/// Discord's rules for answering an interaction: one initial response within the window, follow-ups
/// only after it and only while the token lives, edits only of messages sent with the token.
struct InteractionRegistryTests {
    let guild = GuildID(1 << 40)
    let channel = ChannelID(1 << 41)

    @Test func oneResponseWithinTheWindow() throws {
        let registry = InteractionRegistry(responseWindow: 3, tokenLifetime: 900)
        registry.register(id: 1, token: "a", guild: guild, channel: channel, at: 10)
        registry.register(id: 2, token: "b", guild: guild, channel: channel, at: 10)
        #expect(throws: InteractionRegistry.CallbackError.unknown) { try registry.acknowledge(id: 1, token: "wrong", at: 11) }
        #expect(throws: InteractionRegistry.CallbackError.unknown) { try registry.acknowledge(id: 3, token: "a", at: 11) }
        try registry.acknowledge(id: 1, token: "a", at: 12.9)
        #expect(throws: InteractionRegistry.CallbackError.alreadyAcknowledged) { try registry.acknowledge(id: 1, token: "a", at: 13) }
        #expect(throws: InteractionRegistry.CallbackError.unknown) { try registry.acknowledge(id: 2, token: "b", at: 13.1) }
    }

    @Test func followUpsNeedTheResponseAndALiveToken() throws {
        let registry = InteractionRegistry(responseWindow: 3, tokenLifetime: 900)
        registry.register(id: 1, token: "a", guild: guild, channel: channel, at: 0)
        #expect(registry.followup(token: "a", message: 100, creating: true, at: 1) == nil, "no follow-up before the response")
        try registry.acknowledge(id: 1, token: "a", at: 1)
        #expect(registry.followup(token: "a", message: 100, creating: true, at: 2)?.channel == channel)
        #expect(registry.followup(token: "a", message: 100, creating: false, at: 3) != nil)
        #expect(registry.followup(token: "a", message: 101, creating: false, at: 3) == nil, "only messages sent with the token")
        #expect(registry.followup(token: "a", message: nil, creating: false, at: 901) == nil, "the token expired")
        // Registering later interactions forgets the expired ones.
        registry.register(id: 2, token: "b", guild: guild, channel: channel, at: 1_000)
        #expect(throws: InteractionRegistry.CallbackError.unknown) { try registry.acknowledge(id: 1, token: "a", at: 1_000) }
    }
}
