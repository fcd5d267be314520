import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket

/// A gateway client that does as little as possible: identifies, then counts the messages the
/// simulator sends until it has `expected` of them. Nothing is inflated, so the figure it yields
/// is the simulator's serving rate (its own cost is frame parsing only).
enum ByteCountingClient {
    /// The connection closed before the expected messages arrived: after how many, and with
    /// which close code (nil: no close frame).
    struct ClosedEarly: Error {
        let received: Int
        let code: UInt16?
    }

    /// Connects to `gatewayURL` with `compression`, identifies with `token` as `shard` asking for
    /// `intents`, and returns once `expected` messages arrived (see `Counter`); throws if the
    /// connection closes first. `milestone(n)` runs when message `n` of `milestones` arrives.
    static func receive(
        _ expected: Int, from gatewayURL: String, compression: String, token: String, shard: [Int], intents: Int = 513,
        milestones: Set<Int> = [], milestone: @escaping @Sendable (Int) -> Void = { _ in }
    ) async throws {
        let url = URL(string: gatewayURL)!
        let done = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        let path = "/?v=10&encoding=json&compress=\(compression)"
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: 1 << 24) { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(Counter(
                            expected: expected, token: token, shard: shard, intents: intents, milestones: milestones, milestone: milestone, done: done))
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
        let intents: Int
        let milestones: Set<Int>
        let milestone: @Sendable (Int) -> Void
        let done: EventLoopPromise<Void>
        var received = 0
        var finished = false

        func finish(_ error: (any Error)?) {
            guard !finished else { return }
            finished = true
            if let error { done.fail(error) } else { done.succeed() }
        }

        init(
            expected: Int, token: String, shard: [Int], intents: Int, milestones: Set<Int>, milestone: @escaping @Sendable (Int) -> Void,
            done: EventLoopPromise<Void>
        ) {
            self.expected = expected
            self.token = token
            self.shard = shard
            self.intents = intents
            self.milestones = milestones
            self.milestone = milestone
            self.done = done
        }

        /// Identifies as soon as the WebSocket is up, without waiting for Hello: now and then the
        /// Hello, sent by the simulator the moment it upgrades, never reached this handler (the
        /// simulator then closed with 4009 a minute later), so Hello is not relied on.
        func handlerAdded(context: ChannelHandlerContext) {
            let identify = #"{"op":2,"d":{"token":"\#(token)","intents":\#(intents),"shard":[\#(shard[0]),\#(shard[1])],"properties":{"os":"linux","browser":"bench","device":"bench"}}}"#
            // Clients mask what they send (RFC 6455); the encoder applies the key.
            let frame = WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: context.channel.allocator.buffer(string: identify))
            context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
        }

        /// Counts messages, Hello included when it arrives: the count reaches `expected` one
        /// message before the last (a dispatch in hundreds of thousands) when it does, and at the
        /// last when it did not, so a lost Hello cannot leave the client waiting.
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            if frame.opcode == .connectionClose {
                var data = frame.unmaskedData
                return finish(ClosedEarly(received: received, code: data.readInteger(as: UInt16.self)))
            }
            guard frame.opcode == .binary || frame.opcode == .text else { return }
            received += 1
            if milestones.contains(received) { milestone(received) }
            if received == expected { finish(nil) }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            finish(error)
        }

        func channelInactive(context: ChannelHandlerContext) {
            finish(ClosedEarly(received: received, code: nil))
        }
    }
}
