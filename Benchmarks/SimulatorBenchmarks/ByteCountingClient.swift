import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A gateway client that does as little as possible: identifies, then counts the messages the
/// simulator sends until it has `expected` of them. Nothing is inflated, so the figure it yields
/// is the simulator's serving rate (its own cost is frame parsing only).
enum ByteCountingClient {
    struct ClosedEarly: Error {}

    /// Connects to `gatewayURL` with `compression`, identifies with `token` as `shard`, and returns
    /// once `expected` messages (Hello excluded) arrived; throws if the connection closes first.
    static func receive(_ expected: Int, from gatewayURL: String, compression: String, token: String, shard: [Int]) async throws {
        let url = URL(string: gatewayURL)!
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let path = "/?v=10&encoding=json&compress=\(compression)"
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 24) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Counter(expected: expected, token: token, shard: shard, done: done))
                    }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let request = RequestSender(host: url.host ?? "127.0.0.1", port: url.port ?? 80, path: path)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: "upgrade-request", promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(request, name: "upgrade-request")
                }
            }
            .connect(host: url.host ?? "127.0.0.1", port: url.port ?? 80).get()
        try await done.futureResult.get()
        try await channel.close()
    }

    /// Sends the upgrade request once connected.
    private final class RequestSender: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let host: String
        let port: Int
        let path: String

        init(host: String, port: Int, path: String) {
            self.host = host
            self.port = port
            self.path = path
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: "\(host):\(port)")
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    private final class Counter: ChannelInboundHandler {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let expected: Int
        let token: String
        let shard: [Int]
        let done: EventLoopPromise<Void>
        var received = -1
        var finished = false

        func finish(_ error: (any Error)?) {
            guard !finished else { return }
            finished = true
            if let error { done.fail(error) } else { done.succeed() }
        }

        init(expected: Int, token: String, shard: [Int], done: EventLoopPromise<Void>) {
            self.expected = expected
            self.token = token
            self.shard = shard
            self.done = done
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            if frame.opcode == .connectionClose { return finish(ClosedEarly()) }
            guard frame.opcode == .binary || frame.opcode == .text else { return }
            received += 1
            if received == 0 {
                let identify = #"{"op":2,"d":{"token":"\#(token)","intents":513,"shard":[\#(shard[0]),\#(shard[1])],"properties":{"os":"linux","browser":"bench","device":"bench"}}}"#
                // Clients mask what they send (RFC 6455); the encoder applies the key.
                let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: identify))
                context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
            } else if received == expected {
                finish(nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(error)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(ClosedEarly())
        }
    }
}
