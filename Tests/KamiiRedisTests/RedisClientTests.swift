import CAllocationCounter
import Foundation
@testable import KamiiRedis
import KamiiTestSupport
import NIOCore
import NIOPosix
import Testing

/// The client against the real redis-server `ops/test` starts.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RedisClientTests {
    /// Kamii's scripts need Redis 7.0 (`kamii run` refuses an older server): the version is read
    /// from the server itself.
    @Test func theServersVersionIsRead() async throws {
        let redis = try RedisTestServer.client()
        let version = try #require(try await redis.serverVersion())
        #expect(version.major >= 7, "ops/test's redis-server (Debian 12: 7.0)")
        await redis.close()
    }

    /// `kamii run` logs the settings that put Kamii's data at risk: none on a server set up as the
    /// tests' are (append-only file, no memory limit), both on one without persistence that evicts.
    @Test func settingsThatPutDataAtRiskAreNamed() async throws {
        let server = try RedisProcess()
        let redis = RedisClient(configuration: server.configuration)
        #expect(try await redis.durabilityWarnings().isEmpty)
        for (name, value) in [("appendonly", "no"), ("maxmemory", "104857600"), ("maxmemory-policy", "allkeys-lru")] {
            _ = try await redis.send("CONFIG", "SET", name, value).orThrow()
        }
        let warnings = try await redis.durabilityWarnings()
        #expect(warnings.count == 2)
        #expect(warnings.contains { $0.hasPrefix("appendonly is off") } && warnings.contains { $0.contains("allkeys-lru") })
        await redis.close()
        server.stop()
    }

    @Test func aPipelineIsAnsweredInOrder() async throws {
        let redis = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("xp")
        var pipeline = RedisPipeline()
        for _ in 0..<5_000 {
            pipeline.beginCommand(arguments: 4)
            pipeline.appendArgument("HINCRBY")
            pipeline.appendArgument(key)
            pipeline.appendArgument("user")
            pipeline.appendArgument(-3)
        }
        pipeline.append("DEL", key)
        let replies = try await redis.execute(pipeline)
        #expect(replies.count == 5_001)
        #expect(replies.prefix(5_000).enumerated().allSatisfy { $0.element == .integer(-3 * ($0.offset + 1)) })
        #expect(replies.last == .integer(1))
        await redis.close()
    }

    /// A pipeline's replies are collected without copying what came before. hiredis allocates each
    /// reply object it parses (one per reply); an append through a CircularBuffer's subscript used
    /// to copy the array of replies as well, every time — a second allocation per reply, and a
    /// copy as long as the replies so far.
    @Test func aLongPipelinesRepliesAreNotCopiedAsTheyArrive() async throws {
        // A connection on an event loop of its own: the allocations counted on its thread are the
        // connection's, whatever other tests do meanwhile.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let redis = RedisClient(configuration: try #require(RedisTestServer.configuration), group: group)
        let key = RedisTestServer.uniqueKey("count")
        var pipeline = RedisPipeline()
        for _ in 0..<5_000 { pipeline.append("INCR", key) }
        _ = try await redis.send("PING")
        let loop = group.next()
        kamii_allocation_counting(true)
        let before = try await loop.submit { kamii_allocation_count_on_this_thread() }.get()
        let replies = try await redis.execute(pipeline)
        let allocations = try await loop.submit { kamii_allocation_count_on_this_thread() }.get() - before
        kamii_allocation_counting(false)
        #expect(replies.count == 5_000 && replies.last == .integer(5_000))
        #expect(allocations < 7_500, "\(allocations) allocations on the connection's thread for 5,000 replies")
        _ = try await redis.send("DEL", key)
        await redis.close()
        try await group.shutdownGracefully()
    }

    @Test func repliesOfEveryShape() async throws {
        let redis = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("shapes")
        let binary: [UInt8] = [0, 13, 10, 255, 36, 42]
        var pipeline = RedisPipeline()
        pipeline.beginCommand(arguments: 3)
        pipeline.appendArgument("SET")
        pipeline.appendArgument(key + ":bin")
        pipeline.appendArgument(bytes: binary)
        pipeline.append("GET", key + ":bin")
        pipeline.append("GET", key + ":missing")
        pipeline.append("RPUSH", key + ":list", "a", "", "ü")
        pipeline.append("LRANGE", key + ":list", "0", "-1")
        pipeline.append("HINCRBY", key + ":bin", "f", "1")
        pipeline.append("ZADD", key + ":board", "5", "x", "9", "y")
        pipeline.append("ZREVRANGE", key + ":board", "0", "-1", "WITHSCORES")
        pipeline.append("DEL", key + ":bin", key + ":list", key + ":board")
        let replies = try await redis.execute(pipeline)
        #expect(replies[0] == .simple("OK"))
        #expect(replies[1] == .bulk(binary))
        #expect(replies[2] == .null)
        #expect(replies[3] == .integer(3))
        #expect(replies[4] == .array([.bulk(Array("a".utf8)), .bulk([]), .bulk(Array("ü".utf8))]))
        // An error reply is a value: the commands around it still answered.
        guard case .error(let message) = replies[5] else { Issue.record("expected WRONGTYPE"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        #expect(replies[7].array?.compactMap(\.string) == ["y", "9", "x", "5"])
        #expect(replies[8] == .integer(3))
        await #expect(throws: RedisError.self) { try await redis.send("HINCRBY", key, "f", "not-a-number") }
        await redis.close()
    }

    @Test func integerArgumentsAreWrittenInDecimal() async throws {
        let redis = try RedisTestServer.client()
        var pipeline = RedisPipeline()
        for value in [0, 7, -1, 1_000_000, Int.max, Int.min] {
            pipeline.beginCommand(arguments: 2)
            pipeline.appendArgument("ECHO")
            pipeline.appendArgument(value)
        }
        let replies = try await redis.execute(pipeline)
        #expect(replies.compactMap(\.string) == ["0", "7", "-1", "1000000", String(Int.max), String(Int.min)])
        await redis.close()
    }

    /// Snowflakes go in whole (above Int.max too), alone or inside a key written in parts, byte for
    /// byte what the String would be.
    @Test func unsignedNumbersAndKeysInPartsAreWrittenInPlace() async throws {
        let redis = try RedisTestServer.client()
        let values: [UInt64] = [0, 9, 1_234_567_890_123_456_789, UInt64(Int.max) + 1, .max]
        var pipeline = RedisPipeline()
        for value in values {
            pipeline.beginCommand(arguments: 3)
            pipeline.appendArgument("ECHO")
            pipeline.appendArgument(value)
            pipeline.appendArgument("prefix-é", ":{", value, "}:members")
        }
        var asStrings = RedisPipeline()
        for value in values {
            asStrings.beginCommand(arguments: 3)
            asStrings.appendArgument("ECHO")
            asStrings.appendArgument(String(value))
            asStrings.appendArgument("prefix-é:{\(value)}:members")
        }
        #expect(pipeline.buffer == asStrings.buffer)
        var literal = RedisPipeline()
        literal.beginCommand(arguments: 5)
        literal.appendArgument("SET")
        literal.appendArgument("k", ":{", 7, "}")
        literal.appendArgument(-42)
        literal.appendArgument(UInt64(9))
        literal.appendArgument(bytes: [0, 13, 10][...])
        #expect(Array(literal.buffer.readableBytesView) == Array("*5\r\n$3\r\nSET\r\n$5\r\nk:{7}\r\n$3\r\n-42\r\n$1\r\n9\r\n$3\r\n\0\r\n\r\n".utf8))
        var echoes = RedisPipeline()
        for value in values {
            echoes.beginCommand(arguments: 2)
            echoes.appendArgument("ECHO")
            echoes.appendArgument("kamii", ":{", value, "}:")
        }
        let replies = try await redis.execute(echoes)
        #expect(replies.compactMap(\.string) == values.map { "kamii:{\($0)}:" })
        await redis.close()
    }

    @Test func concurrentCallersGetTheirOwnReplies() async throws {
        let redis = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("echo")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<64 {
                group.addTask {
                    for round in 0..<20 {
                        let value = "\(caller)-\(round)"
                        let reply = try await redis.send("ECHO", value)
                        #expect(reply.string == value)
                    }
                }
            }
            try await group.waitForAll()
        }
        _ = try await redis.send("DEL", key)
        #expect(await redis.connections == 1)
        await redis.close()
    }

    @Test func aKilledConnectionFailsWhatWasOutstandingAndTheNextCallReconnects() async throws {
        let redis = try RedisTestServer.client()
        let admin = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("blocked")
        let id = try #require(try await redis.send("CLIENT", "ID").int)
        // A blocked command is outstanding when the server kills the connection.
        let blocked = Task { try await redis.send("BLPOP", key, "10") }
        try await Task.sleep(for: .milliseconds(200))
        #expect(try await admin.send("CLIENT", "KILL", "ID", String(id)) == .integer(1))
        await #expect(throws: RedisError.connectionLost) { _ = try await blocked.value }
        #expect(try await redis.send("PING") == .simple("PONG"))
        #expect(await redis.connections == 2)
        await redis.close()
        await admin.close()
    }

    @Test func noReplyInTimeClosesTheConnectionAndSaysSo() async throws {
        let redis = try RedisTestServer.client(commandTimeout: .milliseconds(300))
        let key = RedisTestServer.uniqueKey("slow")
        await #expect(throws: RedisError.timeout) { try await redis.send("BLPOP", key, "5") }
        // The next call gets a fresh connection whose replies match again.
        #expect(try await redis.send("ECHO", "after").string == "after")
        #expect(await redis.connections == 2)
        await redis.close()
    }

    @Test func scriptsSurviveAFlushedScriptCache() async throws {
        let redis = try RedisTestServer.client()
        let key = RedisTestServer.uniqueKey("script")
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.evaluate(script, keys: [key], arguments: ["4"]) == .integer(4))
        _ = try await redis.send("SCRIPT", "FLUSH")
        #expect(try await redis.evaluate(script, keys: [key], arguments: ["5"]) == .integer(9))
        _ = try await redis.send("DEL", key)
        await redis.close()
    }

    /// Calls pipelined together after Redis forgot the script (a restart, a flush) are sent again
    /// once it is loaded again, and each runs once; a call's own error comes back as its reply.
    @Test func callsEvaluatedTogetherRunOnceEachAcrossAForgottenScript() async throws {
        let redis = try RedisTestServer.client()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let keys = (0..<4).map { RedisTestServer.uniqueKey("each\($0)") }
        #expect(try await redis.evaluateEach(script, keys.map { (keys: [$0], arguments: ["1"]) }) == Array(repeating: .integer(1), count: 4))
        _ = try await redis.send("SCRIPT", "FLUSH")
        // A call whose own error is not NOSCRIPT comes back as it is, and is not sent again.
        let calls = keys.map { (keys: [$0], arguments: ["2"]) } + [(keys: [keys[0]], arguments: ["not a number"])]
        let replies = try await redis.evaluateEach(script, calls)
        #expect(Array(replies.prefix(4)) == Array(repeating: .integer(3), count: 4))
        guard case .error(let message)? = replies.last else { Issue.record("\(replies)"); return }
        #expect(message.contains("not an integer"), "\(message)")
        var read = RedisPipeline()
        for key in keys { read.append("GET", key) }
        #expect(try await redis.execute(read) == Array(repeating: .bulk(Array("3".utf8)), count: 4))
        var delete = RedisPipeline()
        delete.append(["DEL"] + keys)
        _ = try await redis.execute(delete)
        await redis.close()
    }

    /// A script loaded once is known by its text on later loads, without asking Redis again (so a
    /// `SCRIPT FLUSH` stays unseen until forced); each text keeps its own hash, and a copy of a text
    /// built at run time is the same script.
    @Test func loadedScriptsAreKnownByTheirText() async throws {
        let redis = try RedisTestServer.client()
        let first = RedisScript("return 1")
        let second = RedisScript("return 2")
        let firstHash = try await redis.load(first)
        let secondHash = try await redis.load(second)
        #expect(firstHash != secondHash)
        #expect(try await redis.send("SCRIPT", "LOAD", "return 2").string == secondHash)
        _ = try await redis.send("SCRIPT", "FLUSH")
        let rebuilt = RedisScript(["return", "1"].joined(separator: " "))
        #expect(try await redis.load(rebuilt) == firstHash)
        #expect(try await redis.send("SCRIPT", "EXISTS", firstHash) == .array([.integer(0)]))
        #expect(try await redis.load(first, force: true) == firstHash)
        #expect(try await redis.send("SCRIPT", "EXISTS", firstHash, secondHash) == .array([.integer(1), .integer(0)]))
        #expect(try await redis.load(second) == secondHash)
        await redis.close()
    }

    /// A reply past the configured size fails its pipeline and the connection, instead of being
    /// buffered however large it grows; the next call works on a fresh connection.
    @Test func aReplyLargerThanAllowedFailsRatherThanGrowingMemory() async throws {
        var configuration = try #require(RedisTestServer.configuration)
        configuration.maxReplyBytes = 1 << 20
        let redis = RedisClient(configuration: configuration)
        let key = RedisTestServer.uniqueKey("big")
        _ = try await redis.send("SET", key, String(repeating: "x", count: 3 << 20))
        await #expect {
            _ = try await redis.send("GET", key)
        } throws: { error in
            if case .protocolViolation(let text) = error as? RedisError { text.contains("more than 1048576 bytes") } else { false }
        }
        #expect(try await redis.send("STRLEN", key) == .integer(3 << 20))
        #expect(try await redis.send("GETRANGE", key, "0", "4") == .bulk(Array("xxxxx".utf8)))
        _ = try await redis.send("DEL", key)
        await redis.close()
    }

    @Test func nobodyListeningIsAConnectionFailure() async throws {
        let redis = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .milliseconds(500)))
        await #expect {
            try await redis.send("PING")
        } throws: { error in
            if case .connectionFailed = error as? RedisError { true } else { false }
        }
        await redis.close()
        await #expect(throws: RedisError.closed) { try await redis.send("PING") }
    }

    /// Callers that arrive while a connect is under way wait on it; when it fails, each of them
    /// must see a ``RedisError`` too (the identify queue waits for Redis on that type; a raw NIO
    /// error used to stop a shard for good).
    @Test func everyCallerWaitingOnAFailedConnectGetsAConnectionFailure() async throws {
        let redis = RedisClient(configuration: RedisConfiguration(host: "127.0.0.1", port: 1, connectTimeout: .milliseconds(500)))
        let errors = await withTaskGroup(of: (any Error)?.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do {
                        _ = try await redis.send("PING")
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            return await group.reduce(into: [(any Error)?]()) { $0.append($1) }
        }
        #expect(errors.count == 20)
        for error in errors {
            #expect((error as? RedisError).map { if case .connectionFailed = $0 { true } else { false } } == true, "\(String(describing: error))")
        }
        await redis.close()
    }

    @Test func urlsAreRead() throws {
        let plain = try RedisConfiguration(url: "redis://cache.internal:6380/2")
        #expect(plain.host == "cache.internal" && plain.port == 6380 && plain.database == 2 && plain.password == nil)
        let secret = try RedisConfiguration(url: "redis://:p%40ss@127.0.0.1")
        #expect(secret.password == "p@ss" && secret.port == 6379)
        #expect(throws: RedisConfiguration.ConfigurationError.self) { try RedisConfiguration(url: "http://x") }
        #expect(throws: RedisConfiguration.ConfigurationError.self) { try RedisConfiguration(url: "redis://h/db") }
    }
}

extension RedisClientTests {
    @Test func aclUsersAndPasswordsAreReadAndNeverEchoed() throws {
        let acl = try RedisConfiguration(url: "redis://kamii:s3cret@cache:6380")
        #expect(acl.username == "kamii" && acl.password == "s3cret")
        do {
            _ = try RedisConfiguration(url: "redis://:s3cret@")
            Issue.record("a URL without a host was accepted")
        } catch {
            #expect(!"\(error)".contains("s3cret"))
        }
        // An unescaped '/' in the password puts the rest of it in the path.
        do {
            _ = try RedisConfiguration(url: "redis://user:12/s3cret@host/0")
            Issue.record("a password cut by '/' was taken for a database")
        } catch {
            #expect(!"\(error)".contains("s3cret"))
        }
    }
}

extension RedisClientTests {
    /// A user and a password are each decoded once; a user without a password, or an empty
    /// password, is not taken for credentials; a configuration prints without its password.
    @Test func credentialsAreDecodedOnceAndNeverPrinted() throws {
        #expect(try RedisConfiguration(url: "redis://a%2541:pw@h").username == "a%41")
        #expect(try RedisConfiguration(url: "redis://100%25ops:pw@h").username == "100%ops")
        #expect(try RedisConfiguration(url: "redis://:@h").password == nil)
        #expect(throws: RedisConfiguration.ConfigurationError.self) { try RedisConfiguration(url: "redis://kamii@h") }
        let configuration = try RedisConfiguration(url: "redis://kamii:s3cret@cache:6380/1")
        for printed in ["\(configuration)", String(reflecting: configuration), "\(Mirror(reflecting: configuration).children.map(\.value))"] {
            #expect(!printed.contains("s3cret") && printed.contains("cache:6380"), "\(printed)")
        }
    }

    /// Timeouts no clock can add (or none at all) are held within a millisecond and a day.
    @Test func timeoutsAreHeldToWhatAClockCanAdd() {
        #expect(RedisClient.timeAmount(.seconds(Int64.max)) == .seconds(86_400))
        #expect(RedisClient.timeAmount(.zero) == .milliseconds(1))
        #expect(RedisClient.timeAmount(.seconds(5)) == .seconds(5))
    }

    /// A pipeline knows whether its last command has all its arguments.
    @Test func aPipelineCountsItsArguments() {
        var pipeline = RedisPipeline()
        pipeline.beginCommand(arguments: 2)
        pipeline.appendArgument("GET")
        #expect(!pipeline.isComplete)
        pipeline.appendArgument("key")
        #expect(pipeline.isComplete && pipeline.count == 1)
    }
}
