import KamiiRedis
import KamiiTestSupport
import Testing

/// The connection's set-up (credentials, database) is the configuration's, sent on every connection
/// the client makes; commands that would change it behind the client's back are refused.
@Suite(.enabled(if: RedisTestServer.isConfigured, "set KAMII_TEST_REDIS=host:port (ops/test does)"))
struct RedisConnectionSetupTests {
    /// An ACL user and a database other than 0: every connection, the first and one made after the
    /// server dropped the last, is that user's and in that database.
    @Test func everyConnectionIsTheConfiguredUsersInTheConfiguredDatabase() async throws {
        let server = try RedisProcess()
        let admin = RedisClient(configuration: server.configuration)
        try await admin.send("ACL", "SETUSER", "kamii", "on", ">s3cret", "~*", "+@all")
        var configuration = server.configuration
        (configuration.username, configuration.password, configuration.database) = ("kamii", "s3cret", 2)
        let redis = RedisClient(configuration: configuration)
        try await redis.send("SET", "placed", "here")
        #expect(try await redis.send("ACL", "WHOAMI").string == "kamii")
        let id = try #require(try await redis.send("CLIENT", "ID").int)
        #expect(try await admin.send("CLIENT", "KILL", "ID", String(id)) == .integer(1))
        _ = try? await redis.send("PING")  // fails or reconnects, as the kill's timing has it
        #expect(try await redis.send("GET", "placed").string == "here", "the new connection is in database 2 too")
        #expect(try await redis.send("ACL", "WHOAMI").string == "kamii")
        #expect(await redis.connections == 2)
        #expect(try await admin.send("GET", "placed") == .null, "nothing in database 0")
        var wrong = configuration
        wrong.password = "not it"
        await #expect(throws: RedisError.self) { try await RedisClient(configuration: wrong).send("PING") }
        await redis.close()
        await admin.close()
    }

    /// Commands that do not answer once, or whose effect a reconnect would silently undo, stop the
    /// process (a programming error), whichever way they are appended and in whatever case.
    @Test(arguments: [["SELECT", "1"], ["auth", "user", "pw"], ["Watch", "key"], ["SUBSCRIBE", "c"], ["client", "setname", "x"], ["CLIENT", "REPLY", "OFF"]])
    func commandsThatWouldUnpairRepliesAreRefused(command: [String]) async {
        await #expect(processExitsWith: .failure) { [command] in
            var pipeline = RedisPipeline()
            pipeline.append(command)
        }
        await #expect(processExitsWith: .failure) { [command] in
            var pipeline = RedisPipeline()
            pipeline.beginCommand(arguments: command.count)
            for argument in command { pipeline.appendArgument(bytes: Array(argument.utf8)) }
        }
    }

    /// Their look-alikes are not: keys and values named like them, other CLIENT subcommands.
    @Test func wordsLikeThoseRefusedAreFineElsewhere() {
        var pipeline = RedisPipeline()
        pipeline.append("SET", "SELECT", "AUTH")
        pipeline.append("CLIENT", "ID")
        pipeline.append("GET", "client")
        pipeline.append("SELECTED")
        #expect(pipeline.count == 4 && pipeline.isComplete)
    }
}
