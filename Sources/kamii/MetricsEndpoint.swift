import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// `GET /metrics` in Prometheus's text format, for `kamii run` (`metrics_port`). Anything else
/// gets 404 (405 for another method on `/metrics`). Stops on a graceful shutdown.
struct MetricsEndpoint: Service {
    let host: String
    let port: Int
    /// The page, rendered at each scrape.
    let render: @Sendable () async -> [UInt8]
    let logger: Logger

    /// Requests larger than this are not metrics scrapes; the connection is closed.
    static let maxRequestBytes = 16 * 1024

    func run() async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
        logger.info("metrics served", metadata: ["url": "http://\(host):\(server.channel.localAddress?.port ?? port)/metrics"])
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
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
