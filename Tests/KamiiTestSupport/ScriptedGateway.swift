import Foundation
public import NIOCore
import NIOHTTP1
import NIOPosix
public import NIOWebSocket
import Synchronization

/// A gateway of a test's own, uncompressed, that says what a test scripts after READY — frames
/// Discord would not send (the simulator stays honest). It answers Hello, a heartbeat's ACK and
/// READY (`s` 1) to an identify (or closes with a code given); what it received is kept.
public final class ScriptedGateway: Sendable {
    /// What the shard sent and how often it connected.
    public struct Seen: Sendable {
        public var connections = 0
        public var identifies = 0
        public var resumeSequences: [Int] = []
    }

    /// Shared with the connections' handlers.
    final class Recorder: Sendable {
        let seen = Mutex(Seen())
        let port = Atomic<Int>(0)
    }

    let server: any Channel
    public let port: Int
    private let recorder = Recorder()

    public var received: Seen { recorder.seen.withLock { $0 } }

    /// `afterReady` gives the frames written (with one flush) right after READY; `firstConnection`,
    /// when given, what the first connection gets instead of Hello (then nothing more).
    public init(
        firstConnection: [String]? = nil, closeOnIdentify: UInt16? = nil,
        afterReady: @escaping @Sendable (ByteBufferAllocator) -> [WebSocketFrame] = { _ in [] }
    ) async throws {
        let recorder = self.recorder
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let upgrader = NIOWebSocketServerUpgrader(
                    shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
                    upgradePipelineHandler: { channel, _ in
                        let number = recorder.seen.withLock { $0.connections += 1; return $0.connections }
                        let script = number == 1 ? firstConnection : nil
                        return channel.pipeline.addHandler(
                            Handler(recorder: recorder, instead: script, closeOnIdentify: closeOnIdentify, afterReady: afterReady))
                    })
                return channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress?.port ?? 0
        recorder.port.store(port, ordering: .relaxed)
    }

    public var url: String { "ws://127.0.0.1:\(port)" }

    public func close() async throws { try await server.close() }

    private final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let recorder: Recorder
        let instead: [String]?
        let closeOnIdentify: UInt16?
        let afterReady: @Sendable (ByteBufferAllocator) -> [WebSocketFrame]

        init(
            recorder: Recorder, instead: [String]?, closeOnIdentify: UInt16?,
            afterReady: @escaping @Sendable (ByteBufferAllocator) -> [WebSocketFrame]
        ) {
            (self.recorder, self.instead, self.closeOnIdentify, self.afterReady) = (recorder, instead, closeOnIdentify, afterReady)
        }

        func handlerAdded(context: ChannelHandlerContext) {
            for payload in instead ?? [#"{"op":10,"s":null,"t":null,"d":{"heartbeat_interval":45000}}"#] { send(payload, context) }
            context.flush()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            if frame.opcode == .text, frame.unmaskedData.readableBytesView.starts(with: Array(#"{"op":2"#.utf8)) {
                recorder.seen.withLock { $0.identifies += 1 }
            }
            guard instead == nil else { return }
            guard frame.opcode == .text,
                  let payload = try? JSONSerialization.jsonObject(with: Data(frame.unmaskedData.readableBytesView)) as? [String: Any],
                  let op = payload["op"] as? Int
            else { return }
            switch op {
            case 1:
                send(#"{"op":11,"s":null,"t":null,"d":null}"#, context)
            case 2 where closeOnIdentify != nil:
                var code = context.channel.allocator.buffer(capacity: 2)
                code.writeInteger(closeOnIdentify ?? 4000)
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: code)), promise: nil)
            case 2:
                send(#"""
                    {"op":0,"s":1,"t":"READY","d":{"v":10,"user":{"id":"1","username":"k","discriminator":"0","bot":true},"guilds":[],"session_id":"scripted","resume_gateway_url":"ws://127.0.0.1:\#(recorder.port.load(ordering: .relaxed))","shard":[0,1],"application":{"id":"1","flags":0}}}
                    """#, context)
                for frame in afterReady(context.channel.allocator) { context.write(wrapOutboundOut(frame), promise: nil) }
            case 6:
                let sequence = (payload["d"] as? [String: Any])?["seq"] as? Int ?? -1
                recorder.seen.withLock { $0.resumeSequences.append(sequence) }
            default:
                break
            }
            context.flush()
        }

        private func send(_ text: String, _ context: ChannelHandlerContext) {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: context.channel.allocator.buffer(string: text))), promise: nil)
        }
    }
}
