import NIOCore
import NIOHTTP1

/// HTTP plumbing for the simulated REST API: gathers a request (head and body, up to 8 MiB, as
/// Discord's own limit on uploads is far above what a bot sends as JSON) and writes the answer of
/// ``SimulatedAPI``. Without an API (the gateway host) every request is a 404.
final class RESTHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    static let maxBodyBytes = 8 << 20

    private let api: SimulatedAPI?
    private var request: HTTPRequestHead?
    private var body: [UInt8] = []
    private var tooLarge = false

    init(api: SimulatedAPI?) {
        self.api = api
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
            body = []
            tooLarge = false
        case .body(var chunk):
            if body.count + chunk.readableBytes > Self.maxBodyBytes {
                tooLarge = true
            } else if let bytes = chunk.readBytes(length: chunk.readableBytes) {
                body += bytes
            }
        case .end:
            guard let head = request else { return }
            request = nil
            let response: RESTResponse
            if tooLarge {
                response = .error(413, DiscordError(code: 40005, message: "Request entity too large"))
            } else if let api {
                response = api.respond(method: head.method.rawValue, uri: head.uri, headers: head.headers, body: body)
            } else {
                response = .error(404, DiscordError(code: 0, message: "404: Not Found"))
            }
            body = []
            write(response, keepAlive: head.isKeepAlive, context)
        }
    }

    private func write(_ response: RESTResponse, keepAlive: Bool, _ context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        if !response.headers.contains(where: { $0.0 == "Content-Type" }), response.status != 204 {
            headers.add(name: "Content-Type", value: "application/json")
        }
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
