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
        var replies: [RedisValue]
        var promise: EventLoopPromise<[RedisValue]>
        var timeout: Scheduled<Void>?
    }

    private let reader = RESPReader()
    private var outstanding = CircularBuffer<Outstanding>()
    private let commandTimeout: TimeAmount
    private var failure: RedisError?

    init(commandTimeout: TimeAmount) {
        self.commandTimeout = commandTimeout
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
        outstanding.append(Outstanding(expected: request.pipeline.count, replies: [], promise: request.promise, timeout: timeout))
        outstanding[outstanding.index(before: outstanding.endIndex)].replies.reserveCapacity(request.pipeline.count)
        context.write(wrapOutboundOut(request.pipeline.buffer), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try reader.feed(unwrapInboundIn(data))
            while let reply = try reader.next() {
                guard !outstanding.isEmpty else { throw RedisError.protocolViolation("a reply nobody asked for") }
                outstanding[outstanding.startIndex].replies.append(reply)
                if outstanding[outstanding.startIndex].replies.count == outstanding[outstanding.startIndex].expected {
                    let done = outstanding.removeFirst()
                    done.promise.succeed(done.replies)
                }
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
        while let next = outstanding.popFirst() {
            next.timeout?.cancel()
            next.promise.fail(error)
        }
        context.close(promise: nil)
    }
}
