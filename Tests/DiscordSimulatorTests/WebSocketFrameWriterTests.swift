import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import DiscordSimulator

/// The frames the simulator writes itself read back through NIO's own frame decoder, at every
/// length form (7-bit, 16-bit and 64-bit lengths) and both opcodes, several to one buffer.
@Suite struct WebSocketFrameWriterTests {
    @Test func framesReadBackThroughNIOsDecoder() throws {
        let lengths = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        var sent: [(WebSocketOpcode, [UInt8])] = []
        for (index, length) in lengths.enumerated() {
            let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
            let opcode: WebSocketOpcode = index.isMultiple(of: 2) ? .binary : .text
            WebSocketFrameWriter.append(opcode: opcode, payload: ByteBuffer(bytes: bytes), to: &buffer)
            sent.append((opcode, bytes))
        }
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(WebSocketFrameDecoder(maxFrameSize: 1 << 20)))
        // Delivered in uneven pieces, as TCP would.
        while buffer.readableBytes > 0 {
            try channel.writeInbound(buffer.readSlice(length: min(buffer.readableBytes, 7_777))!)
        }
        for (opcode, bytes) in sent {
            let frame = try #require(try channel.readInbound(as: WebSocketFrame.self))
            #expect(frame.fin)
            #expect(frame.opcode == opcode)
            #expect(frame.maskKey == nil, "a server's frames are not masked")
            #expect(Array(frame.unmaskedData.readableBytesView) == bytes)
        }
        #expect(try channel.readInbound(as: WebSocketFrame.self) == nil)
        _ = try channel.finish()
    }
}
