import CZlib
import DiscordSimulator
import Testing
@testable import DiscordGateway

/// Kamii's own zlib-stream decoding (`CDeflateDecoder`) against zlib's compressor: every kind of
/// block zlib writes (stored, fixed and dynamic Huffman; matches a byte back, a few bytes back and
/// a window back), payloads past the window and past the arena, and small limits that make the
/// arena slide and grow at every turn — each payload must come back byte for byte.
@Suite struct ZlibStreamDecoderTests {
    /// A sender as Discord is one: one zlib stream, each payload followed by a sync flush.
    final class Sender {
        private let stream: UnsafeMutablePointer<z_stream>

        init(level: Int32, strategy: Int32, windowBits: Int32 = 15) {
            stream = .allocate(capacity: 1)
            stream.initialize(to: z_stream())
            let status = deflateInit2_(stream, level, Z_DEFLATED, windowBits, 8, strategy, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
            precondition(status == Z_OK, "deflateInit2 failed: \(status)")
        }

        deinit {
            deflateEnd(stream)
            stream.deinitialize(count: 1)
            stream.deallocate()
        }

        func send(_ payload: [UInt8], flush: Int32 = Z_SYNC_FLUSH) -> [UInt8] {
            var compressed: [UInt8] = []
            var output = [UInt8](repeating: 0, count: 64 * 1024)
            payload.withUnsafeBytes { input in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(input.count)
                repeat {
                    output.withUnsafeMutableBytes { buffer in
                        stream.pointee.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_out = uInt(buffer.count)
                        let status = deflate(stream, flush)
                        precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "deflate failed: \(status)")
                    }
                    compressed += output.prefix(output.count - Int(stream.pointee.avail_out))
                } while stream.pointee.avail_out == 0
            }
            return compressed
        }
    }

    /// Payloads of every shape, the same for every case (a fixed seed): JSON-like text that repeats
    /// itself near and far, incompressible bytes, runs of one byte, short periods, one payload over
    /// the 32 KiB window and one of 3 MiB.
    static let payloads: [[UInt8]] = {
        var random = SeededRandom(seed: 0x5eed)
        var payloads: [[UInt8]] = []
        let words = ["\"content\":", "\"guild_id\":\"", "\"author\":{\"id\":\"", "hello", "world", "xp", "level", "🙂", "\\u00e9", "{", "}", "[", "]", ","]
        for index in 0..<400 {
            var payload: [UInt8] = []
            let size = index == 200 ? 40_000 : index == 300 ? 3 << 20 : Int(random.next() % 3_000) + 1
            while payload.count < size {
                switch random.next() % 10 {
                case 0: payload += (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                case 1: payload += [UInt8](repeating: UInt8(truncatingIfNeeded: random.next()), count: Int(random.next() % 300))
                case 2:
                    let period = (0..<Int(random.next() % 14) + 2).map { _ in UInt8(truncatingIfNeeded: random.next()) }
                    for _ in 0..<Int(random.next() % 40) { payload += period }
                case 3 where payloads.count > 5:
                    // A piece of an earlier payload: a match reaching back across payloads.
                    let earlier = payloads[payloads.count - 1 - Int(random.next() % 5)]
                    let start = Int(random.next() % UInt64(earlier.count))
                    payload += earlier[start..<min(earlier.count, start + Int(random.next() % 500))]
                default: payload += Array(words[Int(random.next() % UInt64(words.count))].utf8) + Array(String(random.next() % 1_000_000).utf8)
                }
            }
            payloads.append(Array(payload.prefix(size)))
        }
        return payloads
    }()

    static let senders: [(level: Int32, strategy: Int32, windowBits: Int32)] = [
        (6, Z_DEFAULT_STRATEGY, 15), (1, Z_DEFAULT_STRATEGY, 15), (9, Z_DEFAULT_STRATEGY, 15), (0, Z_DEFAULT_STRATEGY, 15),
        (6, Z_FIXED, 15), (6, Z_HUFFMAN_ONLY, 15), (6, Z_RLE, 15), (6, Z_FILTERED, 15), (6, Z_DEFAULT_STRATEGY, 9),
    ]

    @Test(arguments: senders)
    func everyPayloadComesBackByteForByte(sender: (level: Int32, strategy: Int32, windowBits: Int32)) throws {
        let deflater = Sender(level: sender.level, strategy: sender.strategy, windowBits: sender.windowBits)
        let frames = Self.payloads.map { deflater.send($0) }
        for limits in [InflaterLimits(), InflaterLimits(initialOutputCapacity: 512, retainedOutputCapacity: 2_048)] {
            let inflater = ZlibStreamInflater(limits: limits)
            // The first payload that differs, if one does (a Bool: a diff of megabytes would take long to print).
            let differing = try frames.indices.first { index in
                try inflater.inflate(frames[index]).map { !$0.elementsEqual(Self.payloads[index]) } ?? true
            }
            #expect(differing == nil, "\(sender), initial capacity \(limits.initialOutputCapacity)")
        }
    }

    @Test func theStreamsEndIsTheLastPayload() throws {
        let deflater = Sender(level: 6, strategy: Z_DEFAULT_STRATEGY)
        let inflater = ZlibStreamInflater()
        #expect(try inflater.inflate(deflater.send(Self.payloads[0])).map(Array.init) == Self.payloads[0])
        // Z_FINISH ends the final block and adds the Adler-32 (not compared); Discord never sends it.
        var last = deflater.send(Self.payloads[1], flush: Z_FINISH)
        last += [0x00, 0x00, 0xFF, 0xFF]  // as if a sync flush marker followed: it may not
        let error = #expect(throws: InflateError.self) { try inflater.inflate(last) }
        #expect(error?.kind == .corruptData && error?.detail == "data after the end of the zlib stream")
    }

    @Test func aPresetDictionaryOrALargerWindowIsRefused() {
        // FDICT set (0x78 0xBB: a header check that holds), and a window of 64 KiB (CINFO 8).
        for header: [UInt8] in [[0x78, 0xBB], [0x88, 0x1D]] {
            let error = #expect(throws: InflateError.self) { try ZlibStreamInflater().inflate(header + [0x00, 0x00, 0x00, 0xFF, 0xFF]) }
            #expect(error?.kind == .corruptData)
        }
    }

    /// Bytes changed at random in a real stream: each payload is one or a typed error — never a
    /// crash or a read past the input — and a reset brings the stream back.
    @Test func changedBytesGiveAPayloadOrAnErrorNeverACrash() throws {
        let deflater = Sender(level: 6, strategy: Z_DEFAULT_STRATEGY)
        let frames = Self.payloads.prefix(150).map { deflater.send($0) }
        var random = SeededRandom(seed: 42)
        var errors = 0
        for _ in 0..<40 {
            var changed = frames
            for _ in 0..<3 {
                let frame = Int(random.next() % UInt64(changed.count))
                changed[frame][Int(random.next() % UInt64(changed[frame].count))] ^= UInt8(random.next() % 255 + 1)
            }
            let inflater = ZlibStreamInflater(limits: InflaterLimits(initialOutputCapacity: 1_024, retainedOutputCapacity: 4_096))
            for frame in changed {
                do { _ = try inflater.inflate(frame) } catch {
                    errors += 1
                    inflater.reset()
                }
            }
        }
        #expect(errors > 0)
    }
}
