import DiscordModels
import NIOCore
import NIOWebSocket

extension GatewaySessionHandler {
    /// Applies a fault the simulator was told to inject. Called on the channel's event loop.
    func inject(_ fault: SimulatorFault) {
        guard let context, state == .identified else { return }
        switch fault {
        case .reconnect:
            ticker?.cancel()
            record.update(number) { $0.reconnectsSent += 1 }
            send(#"{"t":null,"s":null,"op":7,"d":null}"#, context)
            // The client should close and resume elsewhere; if it does not, Discord hangs up.
            let channel = context.channel
            context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
        case .invalidSession(let resumable):
            ticker?.cancel()
            if resumable {
                // Resumable from a new connection, or this one: no longer this connection's session.
                session?.detach(context.channel)
            } else {
                session?.end()
            }
            session = nil
            sendInvalidSession(resumable: resumable, context)
            // The connection is no longer authenticated (anything but a heartbeat, an identify or a
            // resume now gets 4003). Discord hangs up unless the client identifies or resumes on it.
            state = .awaitingIdentify
            let bound = NIOLoopBound((handler: self, channel: context.channel), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .seconds(5)) {
                let (handler, channel) = bound.value
                if handler.state == .awaitingIdentify { channel.close(promise: nil) }
            }
        case .dropConnection:
            state = .closed
            ticker?.cancel()
            context.close(promise: nil)
        case .close(let code):
            if let known = GatewayCloseCode(rawValue: code) {
                close(known, context)
            } else {
                close(code: code, reason: "", context)
            }
        case .stopHeartbeatACKs:
            answersHeartbeats = false
        case .requestHeartbeat:
            send(#"{"t":null,"s":null,"op":1,"d":null}"#, context)
        case .ping:
            pingsSent += 1
            let payload = ByteBuffer(string: "kamii-simulator-ping-\(pingsSent)")
            lastPing = payload
            record.update(number) { $0.pingsSent += 1 }
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .ping, data: payload)), promise: nil)
        case .corruptNextMessage:
            corruptNext = true
        case .pauseReading(let milliseconds):
            // The client's heartbeats wait unread meanwhile: the pause must not count against it.
            heartbeatDeadline?.cancel()
            context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
            let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                let (handler, context) = bound.value
                context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
                context.read()
                if handler.state != .closed { handler.armHeartbeatDeadline(context) }
            }
        case .superseded:
            close(.unknownError, context)
        }
    }
}
