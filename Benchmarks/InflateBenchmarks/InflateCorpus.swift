import DiscordGateway
import BenchmarkSupport
import DiscordSimulator

/// The corpus every inflate benchmark replays: one connection's worth of compressed gateway
/// messages, held in one contiguous allocation so the Swift and C loops read identical memory.
final class InflateCorpus: @unchecked Sendable {
    static var payloads: [[UInt8]] { BenchmarkSupport.corpusPayloads }

    static let zlibStream = InflateCorpus(.zlibStream)
    static let zstdStream = InflateCorpus(.zstdStream)

    static func corpus(for compression: GatewayCompression) -> InflateCorpus {
        compression == .zlibStream ? zlibStream : zstdStream
    }

    let compression: GatewayCompression
    let messageCount: Int
    let payloadBytes: Int
    let compressedBytes: Int
    private let storage: UnsafeMutableRawBufferPointer
    /// Start pointers and lengths of each message, in the shape the C baseline takes.
    let starts: [UnsafePointer<UInt8>?]
    let lengths: [Int]

    private init(_ compression: GatewayCompression) {
        self.compression = compression
        let deflater = compression.makeDeflater()
        let messages = Self.payloads.map { deflater.deflate($0) }
        messageCount = messages.count
        payloadBytes = Self.payloads.reduce(0) { $0 + $1.count }
        compressedBytes = messages.reduce(0) { $0 + $1.count }
        storage = .allocate(byteCount: compressedBytes, alignment: 16)
        var offset = 0
        var starts: [UnsafePointer<UInt8>?] = []
        for message in messages {
            UnsafeMutableRawBufferPointer(rebasing: storage[offset..<(offset + message.count)]).copyBytes(from: message)
            starts.append(UnsafePointer(storage.baseAddress!.advanced(by: offset).assumingMemoryBound(to: UInt8.self)))
            offset += message.count
        }
        self.starts = starts
        lengths = messages.map(\.count)
    }

    deinit { storage.deallocate() }

    /// Message `index` as the Swift inflater receives it.
    func message(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: starts[index], count: lengths[index])
    }
}
