import CHiredis
import Foundation
import Testing

/// hiredis through its argv entry points (the variadic ones cannot be called from Swift), against
/// the real redis-server that `ops/test` starts. Run outside `ops/test` without a server, it is skipped.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct HiredisTests {
    @Test func pipelinedArgvCommandsRoundTrip() throws {
        let (host, port) = try #require(RedisTestServer.address)
        let context = try #require(redisConnect(host, Int32(port)))
        defer { redisFree(context) }
        #expect(context.pointee.err == 0, "cannot connect to redis at \(host):\(port)")

        let key = "{kamii-test}:hiredis:\(UInt64.random(in: 0...UInt64.max))"
        for _ in 0..<1_000 {
            #expect(Self.append(context, ["HINCRBY", key, "xp", "7"]) == REDIS_OK)
        }
        for expected in 1...1_000 {
            let reply = try #require(Self.nextReply(context))
            defer { freeReplyObject(reply) }
            #expect(reply.pointee.type == REDIS_REPLY_INTEGER)
            #expect(reply.pointee.integer == Int64(expected * 7))
        }
        #expect(Self.append(context, ["DEL", key]) == REDIS_OK)
        let deleted = try #require(Self.nextReply(context))
        #expect(deleted.pointee.integer == 1)
        freeReplyObject(deleted)
    }

    @Test func aWrongTypeIsAnErrorReply() throws {
        let (host, port) = try #require(RedisTestServer.address)
        let context = try #require(redisConnect(host, Int32(port)))
        defer { redisFree(context) }
        let key = "{kamii-test}:hiredis:\(UInt64.random(in: 0...UInt64.max))"
        #expect(Self.append(context, ["SET", key, "text"]) == REDIS_OK)
        #expect(Self.append(context, ["HINCRBY", key, "xp", "1"]) == REDIS_OK)
        #expect(Self.append(context, ["DEL", key]) == REDIS_OK)
        let set = try #require(Self.nextReply(context))
        let wrong = try #require(Self.nextReply(context))
        let deleted = try #require(Self.nextReply(context))
        defer { [set, wrong, deleted].forEach { freeReplyObject(UnsafeMutableRawPointer($0)) } }
        #expect(wrong.pointee.type == REDIS_REPLY_ERROR)
        #expect(String(cString: wrong.pointee.str).hasPrefix("WRONGTYPE"))
    }

    static func append(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [String]) -> Int32 {
        let cStrings = arguments.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        // hiredis 0.14 declares argv as `const char **`, hence the mutable buffer.
        var pointers = cStrings.map { UnsafePointer<CChar>($0) }
        let lengths = arguments.map { $0.utf8.count }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { argvlen in
                redisAppendCommandArgv(context, Int32(arguments.count), argv.baseAddress, argvlen.baseAddress)
            }
        }
    }

    static func nextReply(_ context: UnsafeMutablePointer<redisContext>) -> UnsafeMutablePointer<redisReply>? {
        var reply: UnsafeMutableRawPointer?
        guard redisGetReply(context, &reply) == REDIS_OK else { return nil }
        return reply?.assumingMemoryBound(to: redisReply.self)
    }
}

enum RedisTestServer {
    /// Whether these tests run: a server was given, or `ops/test` demands one (then a missing
    /// server fails the tests instead of skipping them).
    static var isConfigured: Bool {
        address != nil || ProcessInfo.processInfo.environment["KAMII_TEST_REQUIRE_SERVICES"] == "1"
    }

    /// `KAMII_TEST_REDIS` as (host, port).
    static let address: (String, Int)? = {
        guard let value = ProcessInfo.processInfo.environment["KAMII_TEST_REDIS"],
              let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...])
        else { return nil }
        return (String(value[..<colon]), port)
    }()
}
