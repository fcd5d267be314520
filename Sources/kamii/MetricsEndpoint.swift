import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// `GET /metrics` in Prometheus's text format, for `kamii run` (`metrics_port`). Anything else
/// gets 404 (405 for another method on `/metrics`). Stops on a graceful shutdown.
///
/// Bounded: a connection that sends nothing for ``idleTimeout`` is closed, and past
/// ``maxConnections`` open at once the one that completed a request part longest ago (or none
/// since it was accepted) is closed to make room for the new one. A scraper keeps one connection
/// and completes a request in milliseconds; a client that opens many and idles, or trickles a
/// request head a byte at a time, must hold neither the process's file descriptors nor the places
/// a scrape needs.
struct MetricsEndpoint: Sendable {
    let host: String
    let port: Int
    /// The page, rendered at each scrape.
    let render: @Sendable () async -> [UInt8]
    let logger: Logger
    var idleTimeout: TimeAmount = .seconds(90)
    var maxConnections = 32
    /// Tests only: the first this many takes of connections fail at once, as one out of file
    /// descriptors does.
    var failingTakes = 0

    struct TakeFailed: Error {}

    /// Requests larger than this are not metrics scrapes; the connection is closed.
    static let maxRequestBytes = 16 * 1024

    /// The endpoint with its port bound: a service that serves it.
    struct Bound: Service {
        let endpoint: MetricsEndpoint
        fileprivate let server: NIOAsyncChannel<any Channel, Never>
        /// The port bound (the one asked for, or the one the system chose for port 0).
        let port: Int

        /// Serves until a graceful shutdown. Taking connections can fail (out of file descriptors:
        /// NIO ends the stream of connections with the error): the endpoint is bound again a
        /// second later rather than failing the service — which would stop the whole bot.
        func run() async throws {
            var server = self.server
            var failures = 0
            while true {
                do {
                    if failures < endpoint.failingTakes { throw TakeFailed() }
                    try await endpoint.accept(on: server)
                    return
                } catch {
                    guard !Task.isCancelled, !Task.isShuttingDownGracefully else { return }
                    failures += 1
                    if failures == 1 || failures.isMultiple(of: 60) {
                        endpoint.logger.error("metrics endpoint failed; serving it again", metadata: ["error": "\(error)", "failures": "\(failures)"])
                    }
                    try? await server.channel.close()
                }
                do {
                    try await Task.sleep(for: .seconds(1))
                    server = try await endpoint.listen(port: port)
                    endpoint.logger.notice("metrics served again", metadata: ["port": "\(port)"])
                } catch is CancellationError {
                    return
                } catch {
                    // The port taken meanwhile, say: tried again after the next pause.
                }
            }
        }
    }

    /// Binds the port, so that a port in use fails `kamii run` before any shard connects.
    func bind() async throws -> Bound {
        let server = try await listen(port: port)
        let bound = server.channel.localAddress?.port ?? port
        logger.info("metrics served", metadata: ["url": "http://\(host):\(bound)/metrics"])
        return Bound(endpoint: self, server: server, port: bound)
    }

    /// The listening channel on `port`.
    fileprivate func listen(port: Int) async throws -> NIOAsyncChannel<any Channel, Never> {
        // The listening channel hands over plain channels, not reading yet (autoRead off): NIO
        // drops the connections still queued in its stream when it closes or the task reading it
        // is cancelled, and a queued NIOAsyncChannel dropped so traps (swift-nio #2813). A plain
        // channel dropped so is closed by its idle timer; one taken is wrapped, then reads.
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .bind(host: host, port: port) { [idleTimeout] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(IdleStateHandler(readTimeout: idleTimeout), CloseWhenIdle())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return channel
                }
            }
    }

    /// Takes connections until a graceful shutdown closes the listening channel.
    private func accept(on server: NIOAsyncChannel<any Channel, Never>) async throws {
        let open = OpenConnections()
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { channels in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await channel in channels {
                        let id = open.admit(channel, limit: maxConnections)
                        group.addTask {
                            if let connection = try? await Self.reading(channel) {
                                await serve(connection, heard: { open.heard(id) })
                            } else {
                                channel.close(promise: nil)
                            }
                            open.remove(id)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// `channel` wrapped for async use, then reading; it throws when the channel closed meanwhile.
    private static func reading(_ channel: any Channel) async throws -> NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart> {
        try await channel.eventLoop.submit {
            let connection = try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
            try channel.syncOptions?.setOption(.autoRead, value: true)
            return connection
        }.get()
    }

    /// Answers each request of one connection in turn, until the client closes it or the process
    /// shuts down (a scraper keeps its connection open between scrapes).
    private func serve(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, heard: @Sendable () -> Void
    ) async {
        await withGracefulShutdownHandler {
            await answerEach(connection, heard: heard)
        } onGracefulShutdown: {
            connection.channel.close(promise: nil)
        }
    }

    private func answerEach(
        _ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, heard: @Sendable () -> Void
    ) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var bodyBytes = 0
            for try await part in inbound {
                heard()
                switch part {
                case .head(let request):
                    head = request
                    bodyBytes = 0
                case .body(let body):
                    bodyBytes += body.readableBytes
                    if bodyBytes > Self.maxRequestBytes { return }
                case .end:
                    guard let request = head else { return }
                    let (status, body) = await answer(request)
                    var headers = HTTPHeaders()
                    headers.add(name: "Content-Type", value: status == .ok ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8")
                    headers.add(name: "Content-Length", value: String(body.count))
                    try await outbound.write(.head(HTTPResponseHead(version: request.version, status: status, headers: headers)))
                    if request.method != .HEAD { try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
                    try await outbound.write(.end(nil))
                    if !request.isKeepAlive { return }
                }
            }
        }
    }

    private func answer(_ request: HTTPRequestHead) async -> (HTTPResponseStatus, [UInt8]) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        guard path == "/metrics" else { return (.notFound, Array("not found: try /metrics\n".utf8)) }
        guard request.method == .GET || request.method == .HEAD else { return (.methodNotAllowed, Array("GET /metrics\n".utf8)) }
        return (.ok, await render())
    }
}

/// Closes a connection its ``IdleStateHandler`` reports idle.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        context.close(promise: nil)
    }
}

/// The connections being served, each with when it last completed a request part.
private final class OpenConnections: Sendable {
    private struct Entry {
        let channel: any Channel
        var lastHeard: ContinuousClock.Instant
    }

    private let state = Mutex<(nextID: Int, open: [Int: Entry])>((0, [:]))

    /// Admits `channel`; with `limit` open already, the one heard from longest ago is closed (its
    /// task then ends and removes it). Returns the new connection's id.
    func admit(_ channel: any Channel, limit: Int) -> Int {
        let (id, evicted) = state.withLock { state -> (Int, (any Channel)?) in
            var evicted: (any Channel)?
            if state.open.count >= limit, let quietest = state.open.min(by: { $0.value.lastHeard < $1.value.lastHeard }) {
                state.open[quietest.key] = nil
                evicted = quietest.value.channel
            }
            let id = state.nextID
            state.nextID += 1
            state.open[id] = Entry(channel: channel, lastHeard: .now)
            return (id, evicted)
        }
        evicted?.close(promise: nil)
        return id
    }

    func heard(_ id: Int) {
        state.withLock { $0.open[id]?.lastHeard = .now }
    }

    func remove(_ id: Int) {
        state.withLock { _ = $0.open.removeValue(forKey: id) }
    }
}
