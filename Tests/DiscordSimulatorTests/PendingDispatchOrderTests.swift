import DiscordGateway
import DiscordModels
import Foundation
import NIOCore
import NIOEmbedded
import Testing
@testable import DiscordSimulator

/// A REST call changes a session's traffic the moment it is delivered, so what it caused must be
/// numbered before any event drawn after it: a message in a channel just made never comes before
/// that channel's CHANNEL_CREATE, whether the connection's event loop took the pending dispatches
/// first or a tick of live traffic did.
struct PendingDispatchOrderTests {
    /// Synchronous on purpose: the embedded event loop belongs to the thread that made it.
    @Test func whatRESTCausedIsNumberedBeforeTrafficDrawnAfterIt() throws {
        let world = TrafficWorld(guildCount: 1, userCount: 80, seed: 11)
        let guild = world.guilds[0]
        let (channel, session) = embeddedSession(world: world)

        var written: [(name: String, sequence: Int, data: [String: Any])] = []
        func draw(_ count: Int) {
            for _ in 0..<count {
                var writes = 0
                let outcome = session.nextLiveDispatch(limit: nil, for: channel) { name, sequence, payload in
                    let object = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]
                    #expect(object?["s"] as? Int == sequence, "the sequence handed over is the payload's")
                    written.append((name, sequence, object?["d"] as? [String: Any] ?? [:]))
                    writes += 1
                }
                if case .skipped = outcome { continue }
                #expect(writes >= 1, "a dispatch sent is a dispatch written")
            }
        }
        draw(200)
        let made = ChannelID(unixMilliseconds: UInt64(Date().timeIntervalSince1970 * 1_000), increment: 7)
        let created: [String: Any] = ["id": made.description, "guild_id": guild.id.description, "type": 0, "name": "fresh", "position": 9]
        let data = try JSONSerialization.data(withJSONObject: created, options: [.sortedKeys])
        // The event loop is never run: its sendPending has not happened when traffic is drawn.
        session.deliver([("CHANNEL_CREATE", Array(data), .channelCreated(made, type: 0, overwrites: []))], guild: guild.id)
        let before = written.count
        draw(3_000)

        let gaps = written.indices.filter { written[$0].sequence != $0 + 1 }
        #expect(gaps.isEmpty, "every dispatch numbered once, in order; out of place at \(gaps.prefix(5))")
        let createdAt = try #require(written.firstIndex { $0.name == "CHANNEL_CREATE" })
        #expect(createdAt == before, "the CHANNEL_CREATE comes right after what was drawn before the call")
        let inMade = written.indices.filter { written[$0].name == "MESSAGE_CREATE" && written[$0].data["channel_id"] as? String == made.description }
        #expect(!inMade.isEmpty, "members post in the new channel")
        #expect(inMade.allSatisfy { $0 > createdAt })
        #expect(session.takePending(for: channel).isEmpty, "nothing is left for the event loop to send twice")
        // The event loop's own turn (the handler sends nothing: it never saw an identify).
        channel.embeddedEventLoop.run()
    }
}
