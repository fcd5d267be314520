import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import DiscordGateway

/// The shard's read back-pressure: frames waiting for the shard are bounded by count and by size.
struct GatewayFlowControlTests {
    typealias FlowControl = GatewayWebSocket.FlowControl

    /// The last auto-read value the forwarder set on the channel, if any.
    func autoRead(_ channel: EmbeddedChannel) -> Bool? {
        channel.options.last { $0.option is ChannelOptions.Types.AutoReadOption }?.value as? Bool
    }

    /// A binary frame of `bytes` as a server sends it, read by itself.
    func frame(bytes: Int) -> ByteBuffer {
        WebSocketFrameBytes.encode(fin: true, opcode: .binary, payload: [UInt8](repeating: 0x78, count: bytes))
    }

    @Test func aFewLargeFramesPauseReadingAsManySmallOnesDo() throws {
        let (frames, continuation) = AsyncThrowingStream<[GatewayFrame], any Error>.makeStream()
        _ = frames
        let flow = FlowControl()
        let channel = EmbeddedChannel(handler: GatewayWebSocket.FrameForwarder(continuation: continuation, flow: flow, maxMessageBytes: 64 << 20))
        // 200 small frames: under the high water, reading goes on.
        for _ in 0..<200 { try channel.writeInbound(frame(bytes: 300)) }
        #expect(autoRead(channel) == nil)
        for _ in 0..<200 { flow.consumed(channel, bytes: 300) }
        #expect(flow.buffered.load(ordering: .relaxed) == 0)

        // Four 4 MiB frames (a 16th of the 64 MiB a message may be) weigh 65 each: 260 in all.
        for _ in 0..<4 { try channel.writeInbound(frame(bytes: 4 << 20)) }
        #expect(autoRead(channel) == false, "16 MiB waiting: reading pauses")
        for _ in 0..<3 { flow.consumed(channel, bytes: 4 << 20) }
        channel.embeddedEventLoop.run()
        #expect(autoRead(channel) == false, "65 left, above the low water of 64: still paused")
        flow.consumed(channel, bytes: 4 << 20)
        channel.embeddedEventLoop.run()
        #expect(autoRead(channel) == true, "nothing left: reading resumes")
        #expect(flow.buffered.load(ordering: .relaxed) == 0)
        _ = try channel.finish()
    }

    @Test func weightsCountEach64KiBOnce() {
        #expect(FlowControl.weight(ofBytes: 0) == 1)
        #expect(FlowControl.weight(ofBytes: 65_535) == 1)
        #expect(FlowControl.weight(ofBytes: 65_536) == 2)
        #expect(FlowControl.weight(ofBytes: 64 << 20) == 1_025)
    }
}
