import NIOCore

/// A pipeline on its way to the socket, with the promise its replies complete.
struct RedisRequest {
    var pipeline: RedisPipeline
    var promise: EventLoopPromise<[RedisValue]>
}

/// A pipeline offered to a connection that is already failing; it was not written.
struct ConnectionClosing: Error {}

/// Matches replies to pipelines in the order they were written. Replies are parsed by hiredis as
/// bytes arrive on the event loop; nothing here touches Swift's cooperative pool.
final class RedisConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Outstanding {
        var expected: Int
        var promise: EventLoopPromise<[RedisValue]>
        var timeout: Scheduled<Void>?
    }

    private let reader = RESPReader()
    private var outstanding = CircularBuffer<Outstanding>()
    /// The replies so far of the first outstanding pipeline. Kept here, not in `outstanding`: an
    /// append through CircularBuffer's subscript copies the array (get, append, set), which made
    /// every reply cost as much as all the replies before it — a 5,000-command pipeline took
    /// 12.5 million value copies.
    private var replies: [RedisValue] = []
    private let commandTimeout: TimeAmount
    private let maxReplyBytes: Int
    /// Bytes received since the last whole reply: what the reply being read has taken so far.
    private var bytesSinceReply = 0
    private var failure: RedisError?

    init(commandTimeout: TimeAmount, maxReplyBytes: Int) {
        self.commandTimeout = commandTimeout
        self.maxReplyBytes = maxReplyBytes
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if failure != nil {
            // Never written: the client may safely send it on a fresh connection.
            request.promise.fail(ConnectionClosing())
            promise?.fail(ConnectionClosing())
            return
        }
        guard request.pipeline.count > 0 else {
            request.promise.succeed([])
            promise?.succeed(())
            return
        }
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let contextBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        let futureResult = request.promise.futureResult
        // One timer per pipeline: if its replies are not all in by then, the connection's replies
        // can no longer be trusted to match, so everything outstanding fails and it closes.
        let timeout = context.eventLoop.scheduleTask(in: commandTimeout) {
            loopBound.value.failAll(.timeout, context: contextBound.value)
        }
        futureResult.whenComplete { _ in timeout.cancel() }
        if outstanding.isEmpty { replies.reserveCapacity(request.pipeline.count) }
        outstanding.append(Outstanding(expected: request.pipeline.count, promise: request.promise, timeout: timeout))
        context.write(wrapOutboundOut(request.pipeline.buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            let bytes = unwrapInboundIn(data)
            bytesSinceReply += bytes.readableBytes
            try reader.feed(bytes)
            while let reply = try reader.next() {
                bytesSinceReply = reader.unparsedBytes
                guard let first = outstanding.first else { throw RedisError.protocolViolation("a reply nobody asked for") }
                replies.append(reply)
                if replies.count == first.expected {
                    outstanding.removeFirst()
                    let done = replies
                    replies = []
                    if let next = outstanding.first { replies.reserveCapacity(next.expected) }
                    first.promise.succeed(done)
                }
            }
            if bytesSinceReply > maxReplyBytes {
                throw RedisError.protocolViolation("a reply of more than \(maxReplyBytes) bytes")
            }
        } catch let error as RedisError {
            failAll(error, context: context)
        } catch {
            failAll(.protocolViolation("\(error)"), context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(.connectionLost, context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(.connectionLost, context: context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(.connectionLost, context: context)
    }

    private func failAll(_ error: RedisError, context: ChannelHandlerContext) {
        if failure == nil { failure = error }
        replies = []
        while let next = outstanding.popFirst() {
            next.timeout?.cancel()
            next.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
