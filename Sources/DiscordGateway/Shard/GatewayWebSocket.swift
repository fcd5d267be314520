import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket
import Synchronization

/// A gateway WebSocket: TCP (TLS for `wss://`), the HTTP upgrade, then whole messages as an
/// async stream of frames with back-pressure (the socket stops being read while the shard has
/// more than `highWater` frames it has not taken, a frame counting once per 64 KiB it holds).
/// Fragmented messages are reassembled up to `maxMessageBytes` (``GatewayFrameReader``).
struct GatewayWebSocket: Sendable {
    let channel: any Channel
    /// Frames in the order they arrived, a read's worth at a time (one hand-off per read, not per frame).
    let frames: AsyncThrowingStream<[GatewayFrame], any Error>
    let flow: FlowControl

    struct UpgradeRefused: Error, CustomStringConvertible {
        let url: String
        var description: String { "the gateway at \(url) did not upgrade to a WebSocket" }
    }

    struct UpgradeTimedOut: Error, CustomStringConvertible {
        let url: String
        var description: String { "the gateway at \(url) did not answer the WebSocket upgrade in time" }
    }

    /// Reads pause above `highWater` unconsumed frames and resume below `lowWater`. A frame
    /// weighs one more for each whole 64 KiB it holds: gateway frames are small, but one of up to
    /// `maxMessageBytes` must not count as one, or 256 of them could be held (16 GiB at 64 MiB).
    final class FlowControl: Sendable {
        static let highWater = 256
        static let lowWater = 64
        let buffered = Atomic<Int>(0)

        /// What a frame of `bytes` counts for against the high and low water.
        static func weight(ofBytes bytes: Int) -> Int { 1 + bytes >> 16 }

        /// The consumer took a frame of `bytes`; reading resumes once the backlog is low again.
        func consumed(_ channel: any Channel, bytes: Int) {
            let weight = Self.weight(ofBytes: bytes)
            let left = buffered.wrappingSubtract(weight, ordering: .relaxed).newValue
            if left <= Self.lowWater, left + weight > Self.lowWater {
                channel.eventLoop.execute {
                    // A read may have landed since (frames are counted a read at a time): resume only
                    // if the backlog is still low; otherwise the consumer passes low water again later.
                    guard self.buffered.load(ordering: .relaxed) <= Self.lowWater else { return }
                    channel.setOption(ChannelOptions.autoRead, value: true).whenSuccess { channel.read() }
                }
            }
        }
    }

    /// Sends a frame, without waiting for the kernel to take it: a peer that stopped reading (its
    /// window full, its stack alive) would hold such a wait forever — the heartbeat that finds the
    /// connection dead, or the close that ends it, with it. The shard sends a few small frames a
    /// minute. Writes and ``close()`` run in order on the channel's loop, but closing drops what the
    /// kernel has not taken: against a peer that stopped reading, a close frame is lost with the
    /// connection it was ending (the session stays resumable; Discord times it out).
    func write(_ frame: WebSocketFrame) {
        channel.writeAndFlush(frame, promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }

    /// One TLS context for every connection of the process: making one parses the whole CA bundle
    /// (milliseconds, on the calling thread), which thousands of shards reconnecting at once would
    /// each pay. A context is thread-safe; the connections' sessions are their own. Only a context
    /// made is kept: a failure (out of file descriptors for a moment) is tried again next time.
    private static let sharedTLSContext = Mutex<NIOSSLContext?>(nil)

    private static func tlsContext() throws -> NIOSSLContext {
        try sharedTLSContext.withLock { shared in
            if let shared { return shared }
            let context = try NIOSSLContext(configuration: .makeClientConfiguration())
            shared = context
            return context
        }
    }

    /// - Parameter timeout: for the TCP (and TLS) connection and again for the upgrade: a server
    ///   that accepts but never answers must not hold the shard.
    /// - Throws: `CancellationError` as soon as the task is cancelled, in either phase.
    static func connect(to urlString: String, path: String, maxMessageBytes: Int, timeout: Duration = .seconds(10)) async throws -> GatewayWebSocket {
        guard let url = URL(string: urlString), let host = url.host, let scheme = url.scheme?.lowercased(), scheme == "ws" || scheme == "wss" else {
            throw UpgradeRefused(url: urlString)
        }
        try Task.checkCancellation()
        let secure = scheme == "wss"
        let port = url.port ?? (secure ? 443 : 80)
        let sslContext = secure ? try tlsContext() : nil
        let group = MultiThreadedEventLoopGroup.singleton
        let upgraded = group.next().makePromise(of: Void.self)
        let (frames, continuation) = AsyncThrowingStream<[GatewayFrame], any Error>.makeStream()
        let flow = FlowControl()
        let hostHeader = url.port.map { "\(host):\($0)" } ?? host
        let deadline = TimeAmount.nanoseconds(Int64(timeout / .nanoseconds(1)))
        let connecting = ClientBootstrap(group: group)
            .connectTimeout(deadline)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: sslContext, serverHostname: host))
                    }
                    // NIO's own error handling would close the channel before the error reached
                    // the stream, which would then end as if the server had closed: the forwarder
                    // ends the stream with the error (a broken stream, ShardStateMachine.streamBroken), then closes.
                    let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxMessageBytes, automaticErrorHandling: false) { channel, _ in
                        channel.eventLoop.makeCompletedFuture {
                            // The forwarder reads the frames itself, in place of the decoder the
                            // upgrader added (bytes forwarded after the 101 reach it first).
                            let operations = channel.pipeline.syncOperations
                            let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
                            try operations.addHandler(
                                FrameForwarder(continuation: continuation, flow: flow, maxMessageBytes: maxMessageBytes),
                                position: .before(decoder))
                            operations.removeHandler(decoder, promise: nil)
                            upgraded.succeed()
                        }
                    }
                    // Bytes after the 101 in the same read are the first WebSocket frame (Hello):
                    // they must be forwarded, not dropped (NIO's default).
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(
                        leftOverBytesStrategy: .forwardBytes,
                        withClientUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.removeHandler(name: "kamii.upgrade-request", promise: nil)
                        }))
                    try channel.pipeline.syncOperations.addHandler(
                        UpgradeRequest(host: hostHeader, path: path, failed: upgraded), name: "kamii.upgrade-request")
                }
            }
            .connect(host: host, port: port)
        // Waited on through a promise of its own, which cancellation fails at once: a shard shut
        // down while connecting must not wait out the timeout (a connection made after that is closed).
        let attempt = connecting.eventLoop.makePromise(of: (any Channel).self)
        connecting.cascade(to: attempt)
        let channel: any Channel
        do {
            channel = try await withTaskCancellationHandler {
                try await attempt.futureResult.get()
            } onCancel: {
                attempt.fail(CancellationError())
            }
        } catch {
            // Never connected, or given up: the promise must still be completed (NIO traps a leaked promise).
            upgraded.fail(error)
            connecting.whenSuccess { $0.close(promise: nil) }
            throw error
        }
        channel.closeFuture.whenComplete { _ in
            upgraded.fail(UpgradeRefused(url: urlString))
            continuation.finish()
        }
        let giveUp = channel.eventLoop.scheduleTask(in: deadline) {
            upgraded.fail(UpgradeTimedOut(url: urlString))
            channel.close(promise: nil)
        }
        upgraded.futureResult.whenComplete { _ in giveUp.cancel() }
        try await withTaskCancellationHandler {
            try await upgraded.futureResult.get()
        } onCancel: {
            upgraded.fail(CancellationError())
            channel.close(promise: nil)
        }
        return GatewayWebSocket(channel: channel, frames: frames, flow: flow)
    }

    /// Sends the upgrade request once connected; a failed upgrade fails the connection.
    private final class UpgradeRequest: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart
        let host: String
        let path: String
        let failed: EventLoopPromise<Void>

        init(host: String, path: String, failed: EventLoopPromise<Void>) {
            self.host = host
            self.path = path
            self.failed = failed
        }

        func channelActive(context: ChannelHandlerContext) {
            var headers = HTTPHeaders()
            headers.add(name: "Host", value: host)
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: path, headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            failed.fail(error)
            context.close(promise: nil)
        }
    }

    /// Reads the frames from the socket's bytes (``GatewayFrameReader``) and hands them to the
    /// stream, everything one read brought at once; stops reading while the consumer is behind.
    final class FrameForwarder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let continuation: AsyncThrowingStream<[GatewayFrame], any Error>.Continuation
        let flow: FlowControl
        private var reader: GatewayFrameReader
        /// The start of a frame whose bytes have not all arrived.
        private var unfinished: ByteBuffer?
        private var read: [GatewayFrame] = []
        private var failed = false

        init(continuation: AsyncThrowingStream<[GatewayFrame], any Error>.Continuation, flow: FlowControl, maxMessageBytes: Int) {
            self.continuation = continuation
            self.flow = flow
            reader = GatewayFrameReader(maxMessageBytes: maxMessageBytes)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard !failed else { return }
            var bytes = unwrapInboundIn(data)
            let continuesUnfinished = unfinished != nil
            if var unfinished {
                self.unfinished = nil
                unfinished.writeBuffer(&bytes)
                bytes = unfinished
            }
            do {
                while let frame = try reader.next(from: &bytes) { read.append(frame) }
            } catch {
                fail(context, error)
                return
            }
            guard bytes.readableBytes > 0 else { return }
            if continuesUnfinished && bytes.readerIndex == 0 {
                // Still the start of one frame, in a buffer of our own that no frame shares: the
                // next reads append to it, growing it by doubling, so a large message in many reads
                // is copied once, not once per read.
                unfinished = bytes
            } else {
                // Only the unread bytes, into a buffer their size. Frames of this read share its
                // storage (as TLS does the socket's), so NIO's `discardReadBytes` would copy all of
                // its capacity — after one large message, that message's size at every read.
                var rest = context.channel.allocator.buffer(capacity: bytes.readableBytes)
                rest.writeBuffer(&bytes)
                unfinished = rest
            }
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            forward(context)
            context.fireChannelReadComplete()
        }

        private func forward(_ context: ChannelHandlerContext) {
            guard !read.isEmpty else { return }
            var weight = 0
            for frame in read { weight += FlowControl.weight(ofBytes: frame.length) }
            continuation.yield(read)
            read.removeAll(keepingCapacity: true)
            // Above high water after any read, not only the one that crosses it: a resume queued
            // before this read must not leave reading on.
            if flow.buffered.wrappingAdd(weight, ordering: .relaxed).newValue >= FlowControl.highWater {
                context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            }
        }

        /// Frames read before the bad one still go to the shard; then the stream ends with the error.
        private func fail(_ context: ChannelHandlerContext, _ error: any Error) {
            failed = true
            unfinished = nil
            forward(context)
            continuation.finish(throwing: error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            forward(context)
            continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            guard !failed else { return }
            fail(context, error)
        }
    }
}
