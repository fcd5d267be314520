import DiscordGateway
import DiscordModels
import NIOCore
import KamiiTestSupport
import NIOWebSocket
import Synchronization
import Testing

/// A server's close frame ends the connection's traffic (RFC 6455 §5.5.1: no data after it), and a
/// close body too short for a code is a close without one.
struct CloseFrameTests {
    static func message(_ sequence: Int) -> String {
        #"{"op":0,"s":\#(sequence),"t":"MESSAGE_CREATE","d":{"id":"300","channel_id":"5","guild_id":"7","author":{"id":"9"},"content":""}}"#
    }

    static func run(_ gateway: ScriptedGateway, until connections: Int) async throws -> [ShardDispatch] {
        let shard = ShardConnection(
            configuration: ShardConfiguration(token: "t", intents: [.guilds], gatewayURL: gateway.url, compression: .none, backoffBase: 0.01, backoffCap: 0.05),
            identifyGate: UnlimitedIdentifyGate())
        let dispatches = Mutex<[ShardDispatch]>([])
        async let stopped = shard.run { dispatch in dispatches.withLock { $0.append(dispatch) } }
        try await waitUntil("\(connections) connections and a resume") {
            gateway.received.connections >= connections && gateway.received.resumeSequences.count >= connections - 1
        }
        await shard.shutdown()
        _ = await stopped
        return dispatches.withLock { $0 }
    }

    /// A dispatch after the close frame, in the same write, is not delivered: the shard resumes
    /// from the last `s` before the close, so Discord would send it again.
    @Test func framesAfterACloseAreNotHandled() async throws {
        let gateway = try await ScriptedGateway { allocator in
            var close = allocator.buffer(capacity: 2)
            close.writeInteger(UInt16(4000))
            return [
                WebSocketFrame(fin: true, opcode: .connectionClose, data: close),
                WebSocketFrame(fin: true, opcode: .text, data: allocator.buffer(string: Self.message(2))),
            ]
        }
        let dispatches = try await Self.run(gateway, until: 2)
        #expect(dispatches.first?.name == "READY")
        #expect(!dispatches.contains { $0.name == "MESSAGE_CREATE" }, "\(dispatches.map(\.name))")
        #expect(gateway.received.resumeSequences.first == 1, "resumed from READY's s")
        try await gateway.close()
    }

    /// A close body of one byte holds no code: the connection ends as one closed without a code,
    /// and the session is resumed.
    @Test func aCloseBodyTooShortForACodeIsACloseWithoutOne() async throws {
        let gateway = try await ScriptedGateway { allocator in
            var close = allocator.buffer(capacity: 1)
            close.writeInteger(UInt8(0x0F))
            return [WebSocketFrame(fin: true, opcode: .connectionClose, data: close)]
        }
        let dispatches = try await Self.run(gateway, until: 2)
        #expect(dispatches.map(\.name) == ["READY"])
        #expect(gateway.received.resumeSequences.first == 1)
        try await gateway.close()
    }
}

/// What Discord may send before Hello: op 7 "can occur at any point … even before, or in place
/// of, Hello" (the gateway events docs), and an op 9. The shard connects again and logs in, once.
struct BeforeHelloTests {
    @Test(arguments: [#"{"op":7,"s":null,"t":null,"d":null}"#, #"{"op":9,"s":null,"t":null,"d":false}"#])
    func aReconnectOrInvalidSessionInPlaceOfHelloIsAnotherConnection(_ first: String) async throws {
        let gateway = try await ScriptedGateway(firstConnection: [first])
        let shard = ShardConnection(
            configuration: ShardConfiguration(
                token: "t", intents: [.guilds], gatewayURL: gateway.url, compression: .none, backoffBase: 0.01, backoffCap: 0.05,
                helloTimeout: .seconds(30)),
            identifyGate: UnlimitedIdentifyGate())
        let dispatches = Mutex<[String]>([])
        async let stopped = shard.run { dispatch in dispatches.withLock { $0.append(dispatch.name) } }
        try await waitUntil("READY on a second connection", timeout: .seconds(20)) { dispatches.withLock { $0 } == ["READY"] }
        await shard.shutdown()
        _ = await stopped
        #expect(gateway.received.connections == 2 && gateway.received.identifies == 1)
        try await gateway.close()
    }
}
