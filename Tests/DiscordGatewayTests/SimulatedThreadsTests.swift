import DiscordGateway
import DiscordModels
import DiscordSimulator
import Foundation
import KamiiTestSupport
import Synchronization
import Testing

/// Threads outlive the gateway session they were opened in, as on Discord: a shard that starts a
/// new session gets its guilds' active threads in GUILD_CREATE, and messages go on in them.
struct SimulatedThreadsTests {
    /// Every dispatch's name and `d`, in order.
    final class Dispatches: Sendable {
        private let items = Mutex<[(name: String, data: [UInt8])]>([])

        func add(_ dispatch: ShardDispatch) {
            items.withLock { $0.append((dispatch.name, Array(dispatch.payload[dispatch.dataRange]))) }
        }

        /// Every dispatch from `start` on, its `d` decoded.
        func all(from start: Int = 0) -> [(name: String, data: [String: Any]?)] {
            let items = items.withLock { Array($0.dropFirst(start)) }
            return items.map { ($0.name, try? JSONSerialization.jsonObject(with: Data($0.data)) as? [String: Any]) }
        }

        func count(of name: String) -> Int { items.withLock { $0.filter { $0.name == name }.count } }
        var count: Int { items.withLock { $0.count } }
    }

    /// The threads open after `events`: thread → parent channel, from THREAD_CREATE, THREAD_UPDATE
    /// (archived or taken out) and THREAD_DELETE.
    static func active(in events: ArraySlice<(name: String, data: [String: Any]?)>) -> [String: String] {
        var open: [String: String] = [:]
        for (name, data) in events where name.hasPrefix("THREAD_") {
            guard let id = data?["id"] as? String else { continue }
            let archived = (data?["thread_metadata"] as? [String: Any])?["archived"] as? Bool ?? false
            if name == "THREAD_DELETE" || archived {
                open[id] = nil
            } else {
                open[id] = data?["parent_id"] as? String ?? "?"
            }
        }
        return open
    }

    @Test func aNewSessionIsToldOfTheActiveThreadsAndMessagesGoOnInThem() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(
            world: TrafficWorld(guildCount: 4, userCount: 300, seed: 91), dispatchesPerSecond: 3_000))
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: server.configuration.token, intents: [.guilds, .guildMessages, .guildMessageReactions, .guildMembers],
                gatewayURL: server.gatewayURL),
            identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)))
        let received = Dispatches()
        async let stopped = shard.run { received.add($0) }
        // Inject once at least two threads are open (the set is exact: the session ends on its
        // event loop before op 9, so every thread event it drew was sent before it).
        try await waitUntil("threads open") { Self.active(in: received.all()[...]).count >= 2 }
        #expect(server.inject(.invalidSession(resumable: false)) == 1)
        try await waitUntil("a new session's guilds") { received.count(of: "GUILD_CREATE") == 8 }

        let all = received.all()
        let secondReady = try #require(all.lastIndex { $0.name == "READY" })
        let expected = Self.active(in: all[..<secondReady])
        let listed = all[secondReady...].filter { $0.name == "GUILD_CREATE" }.flatMap { ($0.data?["threads"] as? [[String: Any]]) ?? [] }
        var found: [String: String] = [:]
        for thread in listed {
            #expect((thread["thread_metadata"] as? [String: Any])?["archived"] as? Bool == false)
            if let id = thread["id"] as? String { found[id] = thread["parent_id"] as? String ?? "?" }
        }
        #expect(found == expected, "exactly the threads still open, each in its channel")
        #expect(listed.count == expected.count)
        let listedIDs = Set(listed.compactMap { $0["id"] as? String })
        try await waitUntil("a message of the new session in a thread it was told of") {
            received.all(from: secondReady).contains { $0.name == "MESSAGE_CREATE" && listedIDs.contains($0.data?["channel_id"] as? String ?? "") }
        }
        await shard.shutdown()
        _ = await stopped
        try await server.stop()
    }
}
