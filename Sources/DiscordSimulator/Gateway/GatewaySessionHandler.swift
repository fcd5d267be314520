import DiscordGateway
import DiscordModels
import Foundation
import NIOCore
import NIOWebSocket

/// One simulated gateway connection: Hello, identify checks with Discord's close codes, READY,
/// a GUILD_CREATE per guild of the shard, heartbeat ACKs, then live dispatches numbered by `s`
/// and filtered by the session's intents — every message compressed as the client asked. A resume
/// (op 6) re-attaches a ``GatewaySession`` and replays what the client missed.
final class GatewaySessionHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    enum State { case awaitingIdentify, identified, closed }

    let configuration: SimulatorConfiguration
    let record: SimulatorRecord
    let sessions: SessionRegistry
    let identifyLimiter: IdentifyLimiter
    let deflater: any GatewayDeflater
    let resumeURL: String
    let observe: @Sendable (TrafficFact) -> Void
    let foresee: @Sendable (TrafficFact) -> Void
    /// The guilds as they are now (members joined, left, kicked, their roles), for op 8.
    let guildStates: GuildStates
    let number: Int
    var state = State.awaitingIdentify
    var session: GatewaySession?
    /// Live events due but not yet drawn: the rate rarely divides into whole events per tick.
    var owed = 0.0
    var ticker: RepeatedTask?
    /// Kept so faults injected from outside can act on the connection.
    var context: ChannelHandlerContext?
    var answersHeartbeats = true
    var corruptNext = false
    /// Pings sent on this connection, and the last one's bytes (the pong must echo them).
    var pingsSent = 0
    var lastPing: ByteBuffer?
    /// The buffer live dispatches are compressed into, one at a time, kept between ticks.
    var liveMessage: ByteBuffer?
    /// zlib-stream messages made on this connection, to split one in `zlibSplitEvery`.
    var zlibMessages = 0
    /// When the client's recent payloads arrived, for the send limit (close 4008).
    private var recentSends: [NIODeadline] = []
    var heartbeatDeadline: Scheduled<Void>?
    /// The gateway version the URL asked for when Discord serves it (`v=10` or `9`; READY says
    /// which); nil for any other, closed with 4012 after Hello.
    let apiVersion: Int?
    let memberRequests: MemberRequestLimiter

    init(
        configuration: SimulatorConfiguration, record: SimulatorRecord, sessions: SessionRegistry,
        identifyLimiter: IdentifyLimiter, compression: GatewayCompression, resumeURL: String, viaResumeURL: Bool = false,
        guildStates: GuildStates, memberRequests: MemberRequestLimiter, apiVersion: Int? = 10,
        foresee: @escaping @Sendable (TrafficFact) -> Void = { _ in }, observe: @escaping @Sendable (TrafficFact) -> Void
    ) {
        self.foresee = foresee
        self.memberRequests = memberRequests
        self.apiVersion = apiVersion
        self.observe = observe
        self.guildStates = guildStates
        self.configuration = configuration
        self.record = record
        self.sessions = sessions
        self.identifyLimiter = identifyLimiter
        self.resumeURL = resumeURL
        deflater = compression.makeDeflater(configuration.compression)
        number = record.open(compression: compression.rawValue, viaResumeURL: viaResumeURL)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        send(#"{"t":null,"s":null,"op":10,"d":{"heartbeat_interval":\#(configuration.heartbeatIntervalMilliseconds),"_trace":["[\"gateway-simulator\"]"]}}"#, context)
        guard apiVersion != nil else { return close(.invalidAPIVersion, context) }
        armHeartbeatDeadline(context)
    }

    /// A client that lets a heartbeat interval and a half pass without a heartbeat is gone as far
    /// as the gateway is concerned: its session times out (4009, not resumable).
    func armHeartbeatDeadline(_ context: ChannelHandlerContext) {
        heartbeatDeadline?.cancel()
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        // Held to a year: tests serve absurd intervals to clients, and the deadline must not overflow.
        let grace = min(Int64(configuration.heartbeatIntervalMilliseconds), 365 * 86_400_000) * 3 / 2
        heartbeatDeadline = context.eventLoop.scheduleTask(in: .milliseconds(grace)) {
            let (handler, context) = bound.value
            handler.close(.sessionTimedOut, context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        heartbeatDeadline?.cancel()
        ticker?.cancel()
        session?.detach(context.channel)
        state = .closed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        // RFC 6455 §5.1: a client's frames are masked, and a server closes on one that is not.
        guard frame.maskKey != nil else { return close(code: 1002, reason: "Client frames must be masked.", context) }
        switch frame.opcode {
        case .text, .binary:
            received(Data(frame.unmaskedData.readableBytesView), context)
        case .connectionClose:
            // Either the answer to our close frame, or the client closing: echo it, then hang up.
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self)
            if state != .closed {
                state = .closed
                ticker?.cancel()
                record.update(number) { $0.clientCloseCode = code.map(Int.init) }
                // 1000 and 1001 end the session (from its own connection, not one a resume
                // replaced); any other code leaves it resumable.
                if code == 1000 || code == 1001, let session, session.isAttached(context.channel) { session.end() }
                let echo = WebSocketFrame(fin: true, opcode: .connectionClose, data: frame.unmaskedData)
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(echo)).whenComplete { _ in bound.value.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .pong:
            if let lastPing, frame.unmaskedData == lastPing {
                self.lastPing = nil
                record.update(number) { $0.pongsReceived += 1 }
            }
        default:
            break
        }
    }

    /// What NIO's frame decoder or aggregator refused, closed once, here (the upgrader's own error
    /// handling is off, or it would send a close frame of its own first): a message over the frame
    /// limit, in one frame or fragments, is a payload far over Discord's 4,096 bytes (4002, as a
    /// smaller one gets); anything else (a continuation with nothing to continue, too many
    /// fragments, a fragmented control frame) is a WebSocket protocol error.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            close(.decodeError, context)
        default:
            close(code: 1002, reason: "WebSocket protocol error.", context)
        }
    }

    private func received(_ message: Data, _ context: ChannelHandlerContext) {
        guard state != .closed else { return }
        // Discord refuses client payloads over 4,096 bytes, and more than 120 of them a minute.
        guard message.count <= 4_096 else { return close(.decodeError, context) }
        let now = NIODeadline.now()
        let window = TimeAmount.milliseconds(Int64(configuration.clientSendWindowMilliseconds))
        recentSends.removeAll { now - $0 >= window }
        recentSends.append(now)
        guard recentSends.count <= configuration.clientSendLimit else { return close(.rateLimited, context) }
        guard let payload = try? JSONSerialization.jsonObject(with: message) as? [String: Any], let op = payload["op"] as? Int else {
            return close(.decodeError, context)
        }
        switch op {
        case 1:
            armHeartbeatDeadline(context)
            guard answersHeartbeats else { return }
            record.update(number) { $0.heartbeatsAcknowledged += 1 }
            send(#"{"t":null,"s":null,"op":11,"d":null}"#, context)
        case 2:
            guard state == .awaitingIdentify else { return close(.alreadyAuthenticated, context) }
            identify(payload["d"] as? [String: Any] ?? [:], context)
        case 8:
            guard state == .identified else { return close(.notAuthenticated, context) }
            // 4001 is also "an invalid payload for an opcode": a `d` that is not an object, or a
            // request without the guild it is for.
            guard let data = payload["d"] as? [String: Any], data["guild_id"] != nil else { return close(.unknownOpcode, context) }
            requestGuildMembers(data, context)
        case 31:
            guard state == .identified else { return close(.notAuthenticated, context) }
            guard let data = payload["d"] as? [String: Any], let guilds = data["guild_ids"] as? [Any] else {
                return close(.unknownOpcode, context)
            }
            requestSoundboardSounds(guilds, context)
        case 43:
            guard state == .identified else { return close(.notAuthenticated, context) }
            guard let data = payload["d"] as? [String: Any], data["guild_id"] != nil else { return close(.unknownOpcode, context) }
            requestChannelInfo(data, context)
        case 3, 4:
            guard state == .identified else { return close(.notAuthenticated, context) }
            guard payload["d"] is [String: Any] else { return close(.unknownOpcode, context) }
        case 6:
            guard state == .awaitingIdentify else { return close(.alreadyAuthenticated, context) }
            resume(payload["d"] as? [String: Any] ?? [:], context)
        default:
            guard state == .identified else { return close(.notAuthenticated, context) }
            close(.unknownOpcode, context)
        }
    }

    func connection(_ context: ChannelHandlerContext) -> GatewaySession.Connection {
        GatewaySession.Connection(channel: context.channel, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
    }

    func dispatch(_ name: String, _ data: String, _ context: ChannelHandlerContext, flush: Bool = true) {
        dispatch(name, Array(data.utf8), context, flush: flush)
    }

    func dispatch(_ name: String, _ data: [UInt8], fact: TrafficFact = .none, _ context: ChannelHandlerContext, flush: Bool = true) {
        guard let session, let (sequence, payload) = session.dispatch(name: name, data: data, fact: fact, from: context.channel) else { return }
        record.update(number) {
            $0.dispatches[name, default: 0] += 1
            $0.lastSequence = sequence
        }
        write(payload, context, flush: flush)
    }

    /// Sends the dispatches REST calls caused for this session.
    func sendPending() {
        guard state == .identified, let context, let session else { return }
        for event in session.takePending(for: context.channel) {
            record.update(number) {
                $0.dispatches[event.name, default: 0] += 1
                $0.lastSequence = event.sequence
            }
            write(event.payload, context, flush: false)
        }
        context.flush()
    }

    /// Op 9, counted: `resumable` says whether the client may resume, or must identify anew.
    func sendInvalidSession(resumable: Bool, _ context: ChannelHandlerContext) {
        record.update(number) { $0.invalidSessionsSent += 1 }
        send(resumable ? #"{"t":null,"s":null,"op":9,"d":true}"# : #"{"t":null,"s":null,"op":9,"d":false}"#, context)
    }

    func send(_ payload: String, _ context: ChannelHandlerContext) {
        write(Array(payload.utf8), context)
    }

    func write(_ payload: [UInt8], _ context: ChannelHandlerContext, flush: Bool = true) {
        var message = context.channel.allocator.buffer(capacity: payload.count / 2 + 64)
        payload.withUnsafeBytes { deflater.deflate($0, appendingTo: &message) }
        send(frame: message, context, flush: flush)
    }

    /// Sends one compressed message as a WebSocket frame (corrupted first, if a fault asked).
    private func send(frame message: ByteBuffer, _ context: ChannelHandlerContext, flush: Bool) {
        var message = message
        corruptIfAsked(&message)
        let opcode: WebSocketOpcode = deflater.compression == .none ? .text : .binary
        let parts = messageParts(message)
        context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: parts.first)), promise: nil)
        if let second = parts.second { context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: opcode, data: second)), promise: nil) }
        if flush { context.flush() }
    }

    /// Damages `message` if a fault asked for the next message to be corrupt.
    func corruptIfAsked(_ message: inout ByteBuffer) {
        guard corruptNext, message.readableBytes > 0 else { return }
        corruptNext = false
        deflater.compression.corrupt(&message)
    }

    /// Closes with a Discord close code, as Discord does: a close frame, then the TCP connection once
    /// the client answered (or after two seconds). Hanging up at once would let the client's kernel
    /// drop our unread close frame when its own reply meets a closed socket.
    func close(_ code: GatewayCloseCode, _ context: ChannelHandlerContext) {
        // Only the session's own, still open connection may end it (not one a resume replaced).
        if state != .closed, code.isFatal || code == .invalidSequence || code == .sessionTimedOut,
           let session, session.isAttached(context.channel) {
            session.end()
        }
        close(code: code.rawValue, reason: code.reason, context)
    }

    func close(code: UInt16, reason: String, _ context: ChannelHandlerContext) {
        guard state != .closed else { return }
        state = .closed
        ticker?.cancel()
        heartbeatDeadline?.cancel()
        record.update(number) { $0.closeCode = Int(code) }
        var buffer = context.channel.allocator.buffer(capacity: 2 + reason.utf8.count)
        buffer.writeInteger(code)
        buffer.writeString(reason)
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: buffer)), promise: nil)
        let channel = context.channel
        context.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
