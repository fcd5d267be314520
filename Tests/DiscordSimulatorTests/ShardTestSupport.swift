import DiscordGateway
import DiscordModels
import DiscordSimulator
import Foundation
import Synchronization

/// Every dispatch a test's shard received, name and `d`, in order.
final class ReceivedDispatches: Sendable {
    private let items = Mutex<[(name: String, data: [UInt8])]>([])

    func add(_ dispatch: ShardDispatch) {
        items.withLock { $0.append((dispatch.name, Array(dispatch.payload[dispatch.dataRange]))) }
    }

    var count: Int { items.withLock { $0.count } }

    func count(of name: String) -> Int { items.withLock { $0.filter { $0.name == name }.count } }

    /// The dispatches from `start` on, `d` decoded.
    func decoded(from start: Int = 0) -> [(name: String, data: [String: Any])] {
        items.withLock { Array($0[min(start, $0.count)...]) }.map {
            ($0.name, (try? JSONSerialization.jsonObject(with: Data($0.data)) as? [String: Any]) ?? [:])
        }
    }

    var all: [(name: String, data: [String: Any])] { decoded() }
}

/// A shard of a test's own on `server`, identifying within the simulator's identify window.
func testShard(_ server: SimulatorServer, intents: GatewayIntents) -> ShardConnection {
    ShardConnection(
        configuration: ShardConfiguration(token: server.configuration.token, intents: intents, gatewayURL: server.gatewayURL),
        identifyGate: LocalIdentifyQueue(window: .milliseconds(Int64(server.configuration.identifyWindowMilliseconds) + 50)))
}
