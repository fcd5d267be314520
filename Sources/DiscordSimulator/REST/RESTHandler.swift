import Foundation
import NIOCore
import NIOHTTP1

/// The REST side of the simulator under `/api/v10`: today what a client needs to log in and find
/// the gateway (`/users/@me`, `/oauth2/applications/@me`, `/gateway`, `/gateway/bot`), with
/// Discord's error JSON. Every call is recorded.
final class RESTHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let configuration: SimulatorConfiguration
    private let record: SimulatorRecord
    private let gatewayURL: String
    private let identifyLimiter: IdentifyLimiter
    /// Injects a fault on the sessions (all, or the one named); returns how many it reached.
    private let injectFault: (@Sendable (SimulatorFault, String?) -> Int)?
    private var request: HTTPRequestHead?

    init(
        configuration: SimulatorConfiguration, record: SimulatorRecord, gatewayURL: String, identifyLimiter: IdentifyLimiter,
        injectFault: (@Sendable (SimulatorFault, String?) -> Int)? = nil
    ) {
        self.configuration = configuration
        self.record = record
        self.gatewayURL = gatewayURL
        self.identifyLimiter = identifyLimiter
        self.injectFault = injectFault
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            request = head
        case .body:
            break
        case .end:
            guard let head = request else { return }
            request = nil
            let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
            record.recordREST("\(head.method.rawValue) \(path)")
            let (status, body) = respond(to: head, path: path)
            write(status, body, keepAlive: head.isKeepAlive, context)
        }
    }

    private func respond(to head: HTTPRequestHead, path: String) -> (HTTPResponseStatus, String) {
        if path == "/_simulator/fault", head.method == .POST, let injectFault {
            return FaultCommand.respond(to: head.uri, injectFault)
        }
        guard path.hasPrefix("/api/v10/") else { return Self.error(.notFound, code: 0, "404: Not Found") }
        let route = String(path.dropFirst("/api/v10".count))
        if route == "/gateway", head.method == .GET {
            return (.ok, #"{"url":"\#(gatewayURL)"}"#)
        }
        guard head.headers.first(name: "Authorization") == "Bot \(configuration.token)", identifyLimiter.tokenIsValid else {
            return Self.error(.unauthorized, code: 0, "401: Unauthorized")
        }
        switch (head.method, route) {
        case (.GET, "/users/@me"):
            return (.ok, WorldPayloads(configuration: configuration).botUser)
        case (.GET, "/oauth2/applications/@me"):
            return (.ok, WorldPayloads(configuration: configuration).application)
        case (.GET, "/gateway/bot"):
            let shards = max(1, (configuration.world.guilds.count + 999) / 1_000)
            return (.ok, #"{"url":"\#(gatewayURL)","shards":\#(shards),"session_start_limit":\#(identifyLimiter.sessionStartLimitJSON)}"#)
        default:
            return Self.error(.notFound, code: 0, "404: Not Found")
        }
    }

    private static func error(_ status: HTTPResponseStatus, code: Int, _ message: String) -> (HTTPResponseStatus, String) {
        (status, #"{"message":"\#(message)","code":\#(code)}"#)
    }

    private func write(_ status: HTTPResponseStatus, _ body: String, keepAlive: Bool, _ context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            done.whenComplete { _ in bound.value.close(promise: nil) }
        }
    }
}
