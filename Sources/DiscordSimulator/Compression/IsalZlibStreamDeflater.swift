public import DiscordGateway
import CIsal
public import NIOCore

/// zlib-stream written by ISA-L's igzip instead of zlib: the same format (a zlib header, then
/// deflate blocks, each payload ended by a sync flush and `00 00 ff ff`), which every zlib
/// inflater reads, at about nine times zlib's speed (level 0 against zlib's 6; a third of the
/// ratio lost). Level 0 codes with Huffman tables fitted to
/// gateway traffic (``TrafficHuffmanTables``); levels 1–3 fit a table per block.
public final class IsalZlibStreamDeflater: GatewayDeflater {
    public var compression: GatewayCompression { .zlibStream }
    private let stream: UnsafeMutablePointer<isal_zstream>
    private let levelBuffer: UnsafeMutableRawBufferPointer?

    /// - Parameters:
    ///   - level: igzip's level, 0–3 (clamped).
    ///   - fittedCodes: level 0 codes with ``TrafficHuffmanTables`` (false: igzip's own codes).
    public init(level: Int32 = 0, fittedCodes: Bool = true) {
        let level = min(max(level, 0), 3)
        stream = .allocate(capacity: 1)
        stream.initialize(to: isal_zstream())
        isal_deflate_init(stream)
        let bufferSize = Int(kamii_isal_level_buffer_size(level))
        levelBuffer = bufferSize > 0 ? .allocate(byteCount: bufferSize, alignment: 64) : nil
        stream.pointee.level = UInt32(level)
        stream.pointee.level_buf = levelBuffer?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        stream.pointee.level_buf_size = UInt32(bufferSize)
        stream.pointee.gzip_flag = UInt16(IGZIP_ZLIB)
        stream.pointee.flush = UInt16(SYNC_FLUSH)
        stream.pointee.end_of_stream = 0
        if level == 0, fittedCodes { stream.pointee.hufftables = TrafficHuffmanTables.shared.tables }
    }

    deinit {
        levelBuffer?.deallocate()
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    public func deflate(_ payload: UnsafeRawBufferPointer, appendingTo message: inout ByteBuffer) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: payload.baseAddress?.assumingMemoryBound(to: UInt8.self))
        stream.pointee.avail_in = UInt32(payload.count)
        // Output that fills the space given may not be all of it. igzip says the flush is done
        // when space is left over or its state is back at a new block; calling it again after
        // that would write an empty block (a header and another `00 00 ff ff`).
        var done = false
        while !done {
            message.writeWithUnsafeMutableBytes(minimumWritableBytes: payload.count / 2 + 64) { output in
                stream.pointee.next_out = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(output.count)
                let status = isal_deflate(stream)
                precondition(status == COMP_OK, "isal_deflate failed with status \(status)")
                done = stream.pointee.avail_out > 0
                    || (stream.pointee.avail_in == 0 && stream.pointee.internal_state.state == ZSTATE_NEW_HDR)
                return output.count - Int(stream.pointee.avail_out)
            }
        }
        stream.pointee.next_in = nil
    }
}

/// igzip level 0's Huffman codes, fitted once per process to a sample of simulated gateway
/// traffic (its default codes are fitted to general text: a third more bytes on this traffic).
/// Shared read-only by every connection's stream.
final class TrafficHuffmanTables: @unchecked Sendable {
    static let shared = TrafficHuffmanTables()
    let tables: UnsafeMutablePointer<isal_hufftables>

    private init() {
        let histogram = UnsafeMutablePointer<isal_huff_histogram>.allocate(capacity: 1)
        defer { histogram.deallocate() }
        histogram.initialize(to: isal_huff_histogram())
        var traffic = TrafficGenerator(world: TrafficWorld(guildCount: 200, userCount: 4_000, seed: 0x4855_4646), seed: 1)
        for _ in 0..<1_000 {
            var payload = traffic.nextPayload()
            payload.withUnsafeMutableBufferPointer { isal_update_histogram($0.baseAddress, Int32($0.count), histogram) }
        }
        tables = .allocate(capacity: 1)
        tables.initialize(to: isal_hufftables())
        let status = isal_create_hufftables(tables, histogram)
        precondition(status == 0, "isal_create_hufftables failed with status \(status)")
    }
}
