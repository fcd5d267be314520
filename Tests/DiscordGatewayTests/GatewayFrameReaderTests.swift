import DiscordSimulator
import NIOCore
import NIOEmbedded
import NIOWebSocket
import Testing
@testable import DiscordGateway

/// Server frames as bytes, header written by hand (for the frames NIO's encoder would not write).
enum WebSocketFrameBytes {
    static func encode(
        fin: Bool, opcode: WebSocketOpcode, payload: [UInt8], reserved: UInt8 = 0, mask: [UInt8]? = nil, longestLength: Bool = false
    ) -> ByteBuffer {
        var bytes = ByteBuffer()
        let code = UInt8(webSocketOpcode: opcode)
        bytes.writeInteger((fin ? 0x80 : 0) | reserved << 4 | code, as: UInt8.self)
        let maskBit: UInt8 = mask == nil ? 0 : 0x80
        if longestLength || payload.count > 0xFFFF {
            bytes.writeInteger(maskBit | 127, as: UInt8.self)
            bytes.writeInteger(UInt64(payload.count))
        } else if payload.count > 125 {
            bytes.writeInteger(maskBit | 126, as: UInt8.self)
            bytes.writeInteger(UInt16(payload.count))
        } else {
            bytes.writeInteger(maskBit | UInt8(payload.count), as: UInt8.self)
        }
        if let mask {
            bytes.writeBytes(mask)
            bytes.writeBytes(payload.enumerated().map { $0.element ^ mask[$0.offset % 4] })
        } else {
            bytes.writeBytes(payload)
        }
        return bytes
    }
}

struct GatewayFrameReaderTests {
    /// Every frame `stream` holds, as the forwarder hands them to the shard when the socket
    /// brings `stream` in reads of `sizes` bytes (cycled); throws what ended the frames' stream.
    func frames(in stream: ByteBuffer, readSizes sizes: [Int], maxMessageBytes: Int = 1 << 20) async throws -> [(WebSocketOpcode, [UInt8])] {
        let (frames, continuation) = AsyncThrowingStream<[GatewayFrame], any Error>.makeStream()
        let forwarder = GatewayWebSocket.FrameForwarder(continuation: continuation, flow: .init(), maxMessageBytes: maxMessageBytes)
        let channel = EmbeddedChannel(handler: forwarder)
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).get()
        var stream = stream
        var k = 0
        while stream.readableBytes > 0, channel.isActive {
            let read = stream.readSlice(length: min(sizes[k % sizes.count], stream.readableBytes))!
            k += 1
            try channel.writeInbound(read)
        }
        _ = try? channel.finish()
        var out: [(WebSocketOpcode, [UInt8])] = []
        for try await batch in frames {
            for frame in batch { out.append((frame.opcode, Array(frame.data.readableBytesView))) }
        }
        return out
    }

    /// NIO's own encoder writes the frames (an oracle independent of the reader): messages of every
    /// length class, some fragmented with control frames between the fragments, read back whole
    /// whatever the reads' sizes.
    @Test func readsWhatNIOsEncoderWritesInAnyReadSizes() async throws {
        let encoder = EmbeddedChannel(handler: WebSocketFrameEncoder())
        var stream = ByteBuffer()
        var expected: [(WebSocketOpcode, [UInt8])] = []
        var random = SeededRandom(seed: 7)
        for index in 0..<45 {
            let length = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000, Int(random.next() % 3_000)][index % 9]
            let payload = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let opcode: WebSocketOpcode = index % 2 == 0 ? .binary : .text
            var frames: [WebSocketFrame] = []
            if index % 3 == 0, length > 2 {
                // In three fragments, a ping between the first two and a pong between the last two.
                let cuts = [0, length / 3, 2 * length / 3, length]
                for part in 0..<3 {
                    let bytes = ByteBuffer(bytes: payload[cuts[part]..<cuts[part + 1]])
                    frames.append(WebSocketFrame(fin: part == 2, opcode: part == 0 ? opcode : .continuation, data: bytes))
                    if part < 2 {
                        let control: WebSocketOpcode = part == 0 ? .ping : .pong
                        frames.append(WebSocketFrame(fin: true, opcode: control, data: ByteBuffer(bytes: [UInt8(part)])))
                        expected.append((control, [UInt8(part)]))
                    }
                }
            } else {
                frames.append(WebSocketFrame(fin: true, opcode: opcode, data: ByteBuffer(bytes: payload)))
            }
            expected.append((opcode, payload))
            for frame in frames {
                try encoder.writeOutbound(frame)
                while var part = try encoder.readOutbound(as: ByteBuffer.self) { stream.writeBuffer(&part) }
            }
        }
        _ = try encoder.finish()
        for sizes in [[7, 1, 2, 3], [4_096], [65_536, 1], [Int.max]] {
            let read = try await frames(in: stream, readSizes: sizes)
            try #require(read.count == expected.count, "reads of \(sizes)")
            for (got, want) in zip(read, expected) {
                #expect(got.0 == want.0 && got.1 == want.1, "reads of \(sizes)")
            }
        }
    }

    /// Hostile bytes — valid frames with bytes changed, cut or appended at random, and pure noise,
    /// in reads of random sizes — end in frames or in a typed error, never a trap or a hang; and a
    /// message is never handed over larger than the limit.
    @Test func randomBytesEndInFramesOrATypedErrorNeverATrap() async throws {
        var random = SeededRandom(seed: 11)
        var valid = ByteBuffer()
        for length in [0, 3, 125, 126, 300, 70_000] {
            var frame = WebSocketFrameBytes.encode(fin: length != 300, opcode: length == 0 ? .ping : .text, payload: [UInt8](repeating: 0x61, count: length))
            valid.writeBuffer(&frame)
            if length == 300 {
                var last = WebSocketFrameBytes.encode(fin: true, opcode: .continuation, payload: [0x62])
                valid.writeBuffer(&last)
            }
        }
        let original = Array(valid.readableBytesView)
        for trial in 0..<400 {
            var bytes = original
            if trial % 4 == 3 {
                bytes = (0..<Int(random.next() % 4_096)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                // Half of the noise begins with a binary frame's header of a random 64-bit length.
                if trial % 8 == 3 { bytes = [0x82, 0x7F] + (0..<8).map { _ in UInt8(truncatingIfNeeded: random.next()) } + bytes }
            } else {
                for _ in 0..<(1 + random.next() % 4) { bytes[Int(random.next() % UInt64(min(bytes.count, 600)))] = UInt8(truncatingIfNeeded: random.next()) }
                if trial % 4 == 1 { bytes.removeLast(Int(random.next() % UInt64(bytes.count))) }
            }
            let sizes = (0..<3).map { _ in 1 + Int(random.next() % 2_000) }
            do {
                for frame in try await frames(in: ByteBuffer(bytes: bytes), readSizes: sizes, maxMessageBytes: 65_536) {
                    #expect(frame.1.count <= 65_536)
                }
            } catch {
                #expect(error is GatewayFrameReader.Failure, "trial \(trial): \(error)")
            }
        }
    }

    @Test func aCloseFrameKeepsItsCode() async throws {
        let stream = WebSocketFrameBytes.encode(fin: true, opcode: .connectionClose, payload: [0x0F, 0xA4])
        let read = try await frames(in: stream, readSizes: [1])
        #expect(read.count == 1 && read[0].0 == .connectionClose && read[0].1 == [0x0F, 0xA4])
    }

    @Test func a64BitLengthOfASmallFrameIsRead() async throws {
        let stream = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: Array("{}".utf8), longestLength: true)
        #expect(try await frames(in: stream, readSizes: [3]).map(\.1) == [Array("{}".utf8)])
    }

    /// What a server may not send is refused, each with its own reason.
    @Test(arguments: [
        (WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [1], reserved: 4), GatewayFrameReader.Failure.reservedBits),
        (WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [1], mask: [1, 2, 3, 4]), .maskedByServer),
        (WebSocketFrameBytes.encode(fin: false, opcode: .ping, payload: [1]), .invalidControlFrame),
        (WebSocketFrameBytes.encode(fin: true, opcode: .ping, payload: [UInt8](repeating: 1, count: 126)), .invalidControlFrame),
        (WebSocketFrameBytes.encode(fin: true, opcode: .continuation, payload: [1]), .unexpectedContinuation),
        (WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [UInt8](repeating: 1, count: 1_001)), .messageTooLarge(maxBytes: 1_000)),
    ])
    func refuses(_ stream: ByteBuffer, _ failure: GatewayFrameReader.Failure) async {
        await #expect(throws: failure) { try await frames(in: stream, readSizes: [64], maxMessageBytes: 1_000) }
    }

    /// The other reserved bits and a reserved control opcode are refused too.
    @Test func everyReservedBitAndControlOpcodeIsRefused() {
        for bit: UInt8 in [4, 2, 1] {
            var bytes = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [1], reserved: bit)
            var reader = GatewayFrameReader(maxMessageBytes: 1_000)
            #expect(throws: GatewayFrameReader.Failure.reservedBits) { try reader.next(from: &bytes) }
        }
        var control = ByteBuffer(bytes: [0x8B, 0x00])
        var reader = GatewayFrameReader(maxMessageBytes: 1_000)
        #expect(throws: GatewayFrameReader.Failure.reservedOpcode(0xB)) { try reader.next(from: &control) }
    }

    /// Each limit is a bound, not a step past it: a 125-byte control frame, a message of exactly the
    /// size limit (in two fragments) and one in exactly the most fragments allowed are read.
    @Test func whatReachesALimitExactlyIsRead() async throws {
        var stream = WebSocketFrameBytes.encode(fin: true, opcode: .ping, payload: [UInt8](repeating: 7, count: 125))
        var first = WebSocketFrameBytes.encode(fin: false, opcode: .binary, payload: [UInt8](repeating: 1, count: 400))
        var last = WebSocketFrameBytes.encode(fin: true, opcode: .continuation, payload: [UInt8](repeating: 2, count: 624))
        stream.writeBuffer(&first)
        stream.writeBuffer(&last)
        var many = WebSocketFrameBytes.encode(fin: false, opcode: .text, payload: [0])
        stream.writeBuffer(&many)
        for index in 1..<GatewayFrameReader.maxFragments {
            var more = WebSocketFrameBytes.encode(
                fin: index == GatewayFrameReader.maxFragments - 1, opcode: .continuation, payload: [UInt8(truncatingIfNeeded: index)])
            stream.writeBuffer(&more)
        }
        // The size limit is the fragments' count too: 1,024 one-byte fragments.
        let read = try await frames(in: stream, readSizes: [100], maxMessageBytes: GatewayFrameReader.maxFragments)
        #expect(read.map(\.0) == [.ping, .binary, .text])
        #expect(read.map(\.1.count) == [125, 1_024, GatewayFrameReader.maxFragments])
        #expect(read[1].1 == [UInt8](repeating: 1, count: 400) + [UInt8](repeating: 2, count: 624))
    }

    /// After a large message, the frames of later reads do not live in (and keep alive) a buffer of
    /// its size: only a cut frame's own bytes are kept from one read to the next. (NIO's
    /// `discardReadBytes` on storage frames still share copies its whole capacity, so each later
    /// read would have copied the large message's size.)
    @Test func framesAfterALargeMessageDoNotKeepItsStorage() async throws {
        let large = 2 << 20
        var stream = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [UInt8](repeating: 3, count: large))
        for index in 0..<200 {
            var small = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [UInt8](repeating: UInt8(index), count: 300))
            stream.writeBuffer(&small)
        }
        let (frames, continuation) = AsyncThrowingStream<[GatewayFrame], any Error>.makeStream()
        let channel = EmbeddedChannel(handler: GatewayWebSocket.FrameForwarder(continuation: continuation, flow: .init(), maxMessageBytes: 4 << 20))
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).get()
        // 64 KiB reads through the large message, then 1,000-byte reads, which cut most small frames.
        while stream.readableBytes > 0 {
            let size = stream.readerIndex < large ? 65_536 : 1_000
            try channel.writeInbound(stream.readSlice(length: min(size, stream.readableBytes))!)
        }
        _ = try? channel.finish()
        var storages: [Int] = []
        for try await batch in frames {
            for frame in batch { storages.append(frame.data.storageCapacity) }
        }
        #expect(storages.count == 201)
        #expect(storages[0] >= large)
        // Those of the read that ended the large message share its storage; none after it.
        #expect(storages.dropFirst().filter { $0 >= large }.count <= 4)
        #expect(storages.suffix(190).allSatisfy { $0 <= 16_384 })
    }

    /// A bad frame ends the stream with its reason, after the frames the same read brought before
    /// it, and closes the connection.
    @Test func framesBeforeABadOneStillReachTheShard() async throws {
        var stream = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: Array("{}".utf8))
        var bad = WebSocketFrameBytes.encode(fin: true, opcode: .text, payload: [1], mask: [1, 2, 3, 4])
        stream.writeBuffer(&bad)
        let (frames, continuation) = AsyncThrowingStream<[GatewayFrame], any Error>.makeStream()
        let channel = EmbeddedChannel(handler: GatewayWebSocket.FrameForwarder(continuation: continuation, flow: .init(), maxMessageBytes: 1_000))
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 443)).get()
        _ = try? channel.writeInbound(stream)
        #expect(!channel.isActive)
        var received: [[UInt8]] = []
        await #expect(throws: GatewayFrameReader.Failure.maskedByServer) {
            for try await batch in frames { received += batch.map { Array($0.data.readableBytesView) } }
        }
        #expect(received == [Array("{}".utf8)])
    }

    @Test func reservedOpcodesAreRefused() {
        var bytes = ByteBuffer(bytes: [0x83, 0x00])
        var reader = GatewayFrameReader(maxMessageBytes: 1_000)
        #expect(throws: GatewayFrameReader.Failure.reservedOpcode(3)) { try reader.next(from: &bytes) }
    }

    @Test func aMessageInsideAnotherIsRefused() async {
        var stream = WebSocketFrameBytes.encode(fin: false, opcode: .text, payload: [1])
        var second = WebSocketFrameBytes.encode(fin: true, opcode: .binary, payload: [2])
        stream.writeBuffer(&second)
        await #expect(throws: GatewayFrameReader.Failure.messageInsideMessage) { try await frames(in: stream, readSizes: [64]) }
    }

    /// A message's fragments add up against the limit, and a header promising more than the limit
    /// is refused before its bytes arrive (nothing is buffered for it).
    @Test func theLimitCountsEveryFragmentAndIsJudgedFromTheHeader() async throws {
        var stream = WebSocketFrameBytes.encode(fin: false, opcode: .text, payload: [UInt8](repeating: 1, count: 600))
        var rest = WebSocketFrameBytes.encode(fin: true, opcode: .continuation, payload: [UInt8](repeating: 1, count: 600))
        stream.writeBuffer(&rest)
        await #expect(throws: GatewayFrameReader.Failure.messageTooLarge(maxBytes: 1_000)) {
            try await frames(in: stream, readSizes: [64], maxMessageBytes: 1_000)
        }

        var header = ByteBuffer(bytes: [0x82, 127])
        header.writeInteger(UInt64(1) << 40)
        var reader = GatewayFrameReader(maxMessageBytes: 64 << 20)
        #expect(throws: GatewayFrameReader.Failure.messageTooLarge(maxBytes: 64 << 20)) { try reader.next(from: &header) }
    }

    @Test func aMessageInTooManyFragmentsIsRefused() async {
        var stream = WebSocketFrameBytes.encode(fin: false, opcode: .text, payload: [1])
        for _ in 0..<GatewayFrameReader.maxFragments {
            var more = WebSocketFrameBytes.encode(fin: false, opcode: .continuation, payload: [1])
            stream.writeBuffer(&more)
        }
        await #expect(throws: GatewayFrameReader.Failure.tooManyFragments(max: GatewayFrameReader.maxFragments)) {
            try await frames(in: stream, readSizes: [4_096])
        }
    }
}
