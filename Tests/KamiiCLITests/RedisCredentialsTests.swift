import KamiiRedis
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
    }
}
