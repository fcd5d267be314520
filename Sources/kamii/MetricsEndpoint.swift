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
/// ``maxConnections`` open at once a new one is closed as soon as it is accepted (a scraper keeps
/// one; a client that opens many and idles must not hold the process's file descriptors).
struct MetricsEndpoint: Service {
    let host: String
    let port: Int
    /// The page, rendered at each scrape.
    let render: @Sendable () async -> [UInt8]
    let logger: Logger
    var idleTimeout: TimeAmount = .seconds(90)
    var maxConnections = 32
    /// Told the port once listening (tests, with port 0).
    var listening: @Sendable (Int) -> Void = { _ in }

    /// Requests larger than this are not metrics scrapes; the connection is closed.
    static let maxRequestBytes = 16 * 1024

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { [idleTimeout] channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(IdleStateHandler(readTimeout: idleTimeout), CloseWhenIdle())
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        let bound = server.channel.localAddress?.port ?? port
        logger.info("metrics served", metadata: ["url": "http://\(host):\(bound)/metrics"])
        listening(bound)
        let open = OpenConnections()
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        let admitted = open.count.withLock { count in
                            guard count < maxConnections else { return false }
                            count += 1
                            return true
                        }
                        guard admitted else {
                            // Closed through the async channel: one dropped unclosed traps in NIO.
                            group.addTask { try? await connection.executeThenClose { _, _ in } }
                            continue
                        }
                        group.addTask {
                            await serve(connection)
                            open.count.withLock { $0 -= 1 }
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// Answers each request of one connection in turn, until the client closes it or the process
    /// shuts down (a scraper keeps its connection open between scrapes).
    private func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        await withGracefulShutdownHandler {
            await answerEach(connection)
        } onGracefulShutdown: {
            connection.channel.close(promise: nil)
        }
    }

    private func answerEach(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        try? await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            var bodyBytes = 0
            for try await part in inbound {
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

/// How many connections are being served.
private final class OpenConnections: Sendable {
    let count = Mutex(0)
}
