import DiscordGateway
import NIOCore
import Testing
@testable import DiscordSimulator

/// Every way the simulator compresses must give Discord's stream: each message inflates, on the
/// connection's one stream, to exactly its payload, and zlib messages end in a sync flush.
@Suite struct DeflaterTests {
    static let world = TrafficWorld(guildCount: 300, userCount: 5_000, seed: 17)

    static let settings: [DeflaterSettings] = [
        .discord, .fast,
        DeflaterSettings(zlibEncoder: .zlib, zlibLevel: 1, zstdLevel: 1),
        DeflaterSettings(zlibEncoder: .isal, zlibLevel: 1, zstdLevel: 19),
        DeflaterSettings(zlibEncoder: .isal, zlibLevel: 3, zstdLevel: -7),
    ]

    /// Traffic, then payloads that stress the output loop: one far larger than the space a
    /// deflater first asks for, and incompressible bytes (which grow when deflated).
    static func payloads() -> [[UInt8]] {
        var traffic = TrafficGenerator(world: world, seed: 3)
        var payloads = traffic.payloads(count: 1_500)
        var random = SeededRandom(seed: 9)
        let noise = (0..<300_000).map { _ in UInt8(truncatingIfNeeded: random.below(256)) }
        payloads.insert(Array(payloads.prefix(400).joined()), at: 700)
        payloads.insert(noise, at: 900)
        payloads += traffic.payloads(count: 200)
        return payloads
    }

    @Test(arguments: [GatewayCompression.zlibStream, .zstdStream], settings)
    func everyMessageInflatesToItsPayload(_ compression: GatewayCompression, _ settings: DeflaterSettings) throws {
        let deflater = compression.makeDeflater(settings)
        let inflater = compression.makeInflater()
        for payload in Self.payloads() {
            let message = deflater.deflate(payload)
            if compression == .zlibStream { #expect(message.suffix(4) == [0x00, 0x00, 0xFF, 0xFF]) }
            let inflated = try #require(try inflater.inflate(message))
            #expect(Array(inflated) == payload)
        }
    }

    /// Several messages appended to one buffer (as a tick of live traffic is written) stay apart.
    @Test(arguments: [GatewayCompression.zlibStream, .zstdStream, .none])
    func messagesAppendedToOneBufferStayApart(_ compression: GatewayCompression) throws {
        let deflater = compression.makeDeflater(.fast)
        let inflater = compression.makeInflater()
        var traffic = TrafficGenerator(world: Self.world, seed: 4)
        let payloads = traffic.payloads(count: 50)
        var buffer = ByteBuffer()
        var lengths: [Int] = []
        for payload in payloads {
            let before = buffer.writerIndex
            payload.withUnsafeBytes { deflater.deflate($0, appendingTo: &buffer) }
            lengths.append(buffer.writerIndex - before)
        }
        for (payload, length) in zip(payloads, lengths) {
            let read = buffer.readBytes(length: length)
            let message = try #require(read)
            #expect(Array(try #require(try inflater.inflate(message))) == payload)
        }
    }

    /// The fitted Huffman codes are what make ISA-L's level 0 worth using: fewer bytes than its
    /// default codes on the same traffic.
    @Test func fittedCodesBeatIsalsDefaultOnes() {
        var traffic = TrafficGenerator(world: Self.world, seed: 8)
        let payloads = traffic.payloads(count: 2_000)
        let fitted = IsalZlibStreamDeflater(level: 0)
        let general = IsalZlibStreamDeflater(level: 0, fittedCodes: false)
        let fittedBytes = payloads.reduce(0) { $0 + fitted.deflate($1).count }
        let generalBytes = payloads.reduce(0) { $0 + general.deflate($1).count }
        let rawBytes = payloads.reduce(0) { $0 + $1.count }
        #expect(fittedBytes < generalBytes * 9 / 10)
        #expect(fittedBytes < rawBytes / 3)
    }

    /// The corrupt-frame fault must spoil a message whatever wrote the stream: the inflater refuses
    /// it, at the stream's first message and later on.
    @Test(arguments: [GatewayCompression.zlibStream, .zstdStream], [DeflaterSettings.discord, .fast])
    func aCorruptedMessageIsRefused(_ compression: GatewayCompression, _ settings: DeflaterSettings) throws {
        var traffic = TrafficGenerator(world: Self.world, seed: 6)
        let payloads = traffic.payloads(count: 30)
        for spoiled in [0, 17] {
            let deflater = compression.makeDeflater(settings)
            let inflater = compression.makeInflater()
            for (index, payload) in payloads.enumerated() {
                var message = ByteBuffer()
                payload.withUnsafeBytes { deflater.deflate($0, appendingTo: &message) }
                if index == spoiled {
                    compression.corrupt(&message)
                    #expect(throws: (any Error).self) { _ = try inflater.inflate(Array(message.readableBytesView)) }
                    break
                }
                #expect(Array(try #require(try inflater.inflate(Array(message.readableBytesView)))) == payload)
            }
        }
    }
}
