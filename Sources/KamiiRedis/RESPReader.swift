import CHiredis
import NIOCore

/// Parses RESP replies from bytes as they arrive (any split) with hiredis's reader. Not
/// thread-safe: one per connection, used on its event loop.
final class RESPReader {
    private let reader: UnsafeMutablePointer<redisReader>

    init() {
        guard let reader = redisReaderCreate() else { fatalError("hiredis could not allocate a reader") }
        self.reader = reader
    }

    deinit { redisReaderFree(reader) }

    func feed(_ bytes: ByteBuffer) throws(RedisError) {
        let status = bytes.withUnsafeReadableBytes { raw in
            raw.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        if status != REDIS_OK { throw .protocolViolation(errorText) }
    }

    /// Bytes fed and not yet part of a reply handed out.
    var unparsedBytes: Int { reader.pointee.len - reader.pointee.pos }

    /// The next complete reply, or nil until more bytes arrive.
    func next() throws(RedisError) -> RedisValue? {
        var object: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &object) == REDIS_OK else { throw .protocolViolation(errorText) }
        guard let object else { return nil }
        defer { freeReplyObject(object) }
        return Self.value(object.assumingMemoryBound(to: redisReply.self))
    }

    private var errorText: String {
        withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let reply = reply.pointee
        switch reply.type {
        case REDIS_REPLY_INTEGER:
            return .integer(Int(reply.integer))
        case REDIS_REPLY_STRING:
            return .bulk(bytes(reply))
        case REDIS_REPLY_STATUS:
            // Straight from hiredis's bytes: `QUEUED` and `OK` (one per command of a transaction)
            // fit in a small String, with no array on the way.
            return .simple(text(reply))
        case REDIS_REPLY_ERROR:
            return .error(text(reply))
        case REDIS_REPLY_ARRAY:
            guard let elements = reply.element else { return .array([]) }
            return .array((0..<reply.elements).map { index in elements[index].map(value) ?? .null })
        default:
            return .null
        }
    }

    private static func text(_ reply: redisReply) -> String {
        guard let text = reply.str, reply.len > 0 else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: text, count: reply.len), as: UTF8.self)
    }

    private static func bytes(_ reply: redisReply) -> [UInt8] {
        guard let text = reply.str, reply.len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: text, count: reply.len))
    }
}
