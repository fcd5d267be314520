import NIOCore
import NIOWebSocket

/// Live traffic: the events of the session's guilds drawn at the configured rate, and those its
/// intents cover compressed and framed straight onto the connection.
extension GatewaySessionHandler {
    /// Sends live traffic in 10 ms ticks at the configured rate.
    func startTraffic(_ context: ChannelHandlerContext) {
        let rate = configuration.dispatchesPerSecond
        guard rate > 0 else { return }
        // One ticker per connection, whatever session it carries now (an identify or a resume on
        // the same connection after an op 9 starts traffic again).
        ticker?.cancel()
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        ticker = context.eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(10), delay: .milliseconds(10)) { task in
            let (handler, context) = bound.value
            // A client that does not keep up is not sent more: the socket's buffer is the limit,
            // and what it missed is simply not generated (no unbounded queue on either side).
            guard context.channel.isWritable else {
                handler.owed = 0
                return
            }
            handler.owed += Double(rate) / 100
            if handler.sendOwedTraffic(context) { task.cancel() }
        }
    }

    /// Starts a new session's traffic, after drawing its first live events ahead when configured
    /// (``SimulatorConfiguration/prerenderedDispatches``).
    func startTrafficDrawingAhead(_ context: ChannelHandlerContext) {
        let count = configuration.prerenderedDispatches
        guard count > 0, configuration.dispatchesPerSecond > 0, let session else { return startTraffic(context) }
        // Room for the `d`s of as many as it may send (those it does not send keep none).
        session.reserveAhead(min(count, configuration.maxDispatchesPerSession ?? .max))
        prerenderThenStartTraffic(context, remaining: count)
    }

    /// Draws the session's live events ahead a chunk at a time — so that the other connections on
    /// the event loop, and REST calls waiting on the session, are not held up for long — then
    /// starts its traffic.
    private func prerenderThenStartTraffic(_ context: ChannelHandlerContext, remaining: Int, for drawing: GatewaySession? = nil) {
        // Only for the session it began for: after an op 9 the connection may carry another.
        guard state == .identified, let session, drawing.map({ $0 === session }) ?? true, session.isAttached(context.channel) else { return }
        guard remaining > 0 else { return startTraffic(context) }
        let drawn = session.prerender(min(remaining, Self.prerenderChunk), limit: configuration.maxDispatchesPerSession, for: context.channel)
        // Drawing stops short at the session's dispatch limit.
        guard drawn == min(remaining, Self.prerenderChunk) else { return startTraffic(context) }
        let bound = NIOLoopBound((handler: self, context: context), eventLoop: context.eventLoop)
        // Scheduled, not executed: the event loop runs every task queued before it next reads its
        // sockets, so a chain of `execute`s would hold every other connection for the whole draw.
        context.eventLoop.scheduleTask(in: .milliseconds(1)) {
            bound.value.handler.prerenderThenStartTraffic(bound.value.context, remaining: remaining - drawn, for: session)
        }
    }

    /// Live events drawn ahead at a time (a few milliseconds' work).
    static let prerenderChunk = 2_048

    /// The most live events made up at once for the time a resumed session was away.
    static let awayTrafficLimit = 20_000.0

    /// Draws the live events owed (this tick's, or those of the time a resumed session was away) and
    /// sends those the session's intents cover: each compressed onto the stream straight from where
    /// the session keeps it, framed, and all of them in one buffer written at once. True when the
    /// session's traffic is over.
    @discardableResult
    func sendOwedTraffic(_ context: ChannelHandlerContext) -> Bool {
        guard let session else { return true }
        var finished = false
        // Counted locally and recorded once per tick: the record's lock is shared by every
        // connection on every event loop.
        var sent = DispatchTally()
        var lastSequence = 0
        // Each dispatch is compressed into `message`, then framed into `frames`, which goes out
        // in one write below the frame encoder (see WebSocketFrameWriter).
        var frames = context.channel.allocator.buffer(capacity: min(Int(owed) + 1, 4_096) * 512)
        var message = liveMessage ?? context.channel.allocator.buffer(capacity: 4_096)
        // Held by the local alone, so clearing it reuses its storage instead of copying it.
        liveMessage = nil
        let opcode: WebSocketOpcode = deflater.compression == .none ? .text : .binary
        while owed >= 1, state == .identified {
            owed -= 1
            let dispatch = session.nextLiveDispatch(limit: configuration.maxDispatchesPerSession, for: context.channel) { name, sequence, payload in
                message.clear()
                deflater.deflate(payload, appendingTo: &message)
                corruptIfAsked(&message)
                let parts = messageParts(message)
                WebSocketFrameWriter.append(opcode: opcode, payload: parts.first, to: &frames)
                if let second = parts.second { WebSocketFrameWriter.append(opcode: opcode, payload: second, to: &frames) }
                sent.count(name)
                lastSequence = sequence
            }
            switch dispatch {
            case .sent, .skipped:
                break
            case .finished:
                finished = true
                owed = 0
            }
        }
        liveMessage = message
        if frames.readableBytes > 0 {
            if let encoder = try? context.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self) {
                encoder.write(NIOAny(frames), promise: nil)
            } else {
                // No encoder to write below (never so after the upgrade): the bytes are already frames.
                context.close(promise: nil)
            }
        }
        if lastSequence > 0 {
            record.update(number) { connection in
                connection.dispatches.merge(sent.byName, uniquingKeysWith: +)
                connection.lastSequence = lastSequence
            }
        }
        context.flush()
        return finished
    }
}
