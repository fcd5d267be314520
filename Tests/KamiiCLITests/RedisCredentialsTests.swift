@testable import KamiiRedis
import KamiiTestSupport
import Logging
import Testing
@testable import kamii

/// `kamii run` refuses at start a Redis that refuses its credentials or wants some, with the
/// server's reason, instead of starting and retrying every flush forever.
struct RedisCredentialsTests {
    @Test func refusedOrMissingCredentialsStopTheStart() async throws {
        let server = try RedisProcess()
        let admin = RedisClient(configuration: server.configuration)
        try await admin.send("CONFIG", "SET", "requirepass", "s3cret")
        await admin.close()
        let logger = Logger(label: "test")

        var wrong = server.configuration
        wrong.password = "guess"
        let guessing = RedisClient(configuration: wrong)
        await #expect { try await Run.checkVersion(of: guessing, logger: logger) } throws: { error in
            let text = "\(error)"
            return text.contains("refused") && text.contains("WRONGPASS") && !text.contains("guess")
        }
        await guessing.close()

        let anonymous = RedisClient(configuration: server.configuration)
        await #expect { try await Run.checkVersion(of: anonymous, logger: logger) } throws: { "\($0)".contains("needs a password") }
        await anonymous.close()

        var right = server.configuration
        right.password = "s3cret"
        let authenticated = RedisClient(configuration: right)
        try await Run.checkVersion(of: authenticated, logger: logger)
        await authenticated.close()

        // A server full of clients (a rolling restart's old processes still connected) answers the
        // AUTH with "max number of clients reached": that passes, and the start waits for it
        // (the flusher retries) instead of refusing the credentials.
        let holder = RedisClient(configuration: right)
        try await holder.send("CONFIG", "SET", "maxclients", "1")
        let crowded = RedisClient(configuration: right)
        // Its words are read, or the connection is seen closed first: either way not a refusal.
        await #expect { try await crowded.serverVersion() } throws: { error in
            guard let error = error as? RedisError, case .refused = error else { return error is RedisError }
            return false
        }
        try await Run.checkVersion(of: crowded, logger: logger)
        await crowded.close()
        try await holder.send("CONFIG", "SET", "maxclients", "10000")
        await holder.close()
    }

    @Test func setUpRepliesAboutCredentialsOrTheDatabaseAreRefusalsAndTheRestPass() {
        for message in [
            "WRONGPASS invalid username-password pair or user is disabled.", "NOAUTH Authentication required.",
            "NOPERM this user has no permissions to run the 'select' command", "ERR DB index is out of range",
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
            "ERR SELECT is not allowed in cluster mode", "ERR wrong number of arguments for 'auth' command",
        ] {
            #expect(RedisError.refusingSetUp(message) == .refused(message))
        }
        for message in ["ERR max number of clients reached", "LOADING Redis is loading the dataset in memory"] {
            #expect(RedisError.refusingSetUp(message) != .refused(message))
        }
    }
}
