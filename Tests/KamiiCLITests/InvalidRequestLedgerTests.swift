import DiscordREST
import DiscordSimulator
@testable import kamii
import KamiiRedis
import KamiiTestSupport
import Logging
import Testing

/// The host's invalid REST answers outlive the process: a restarted one starts with those of the
/// last ten minutes against its budget, as Discord keeps them against the IP.
@Suite(.enabled(if: RedisTestServer.isConfigured))
struct InvalidRequestLedgerTests {
    let host = "test-host-\(UInt64.random(in: 0...UInt64.max))"

    @Test func aRestartedProcessStartsWithTheHostsRecentInvalidAnswers() async throws {
        let server = try await SimulatorServer.start(SimulatorConfiguration(world: TrafficWorld(guildCount: 1, userCount: 20, seed: 5), dispatchesPerSecond: 0))
        let redis = try RedisTestServer.client()
        let now = Locked(Int64(1_800_000_000))
        func ledger(_ rest: DiscordRESTClient) -> InvalidRequestLedger {
            InvalidRequestLedger(redis: redis, rest: rest, host: host, logger: Logger(label: "test"), clock: { now.value })
        }
        func client() -> DiscordRESTClient {
            DiscordRESTClient(configuration: RESTClientConfiguration(apiBaseURL: server.apiBaseURL, token: server.configuration.token))
        }
        // The first process: three 429s (user scope: invalid) before its request goes through.
        let first = client()
        #expect(await ledger(first).carryOver() == 0)
        server.forceRateLimits(count: 3, retryAfter: 0.01)
        _ = try await first.gatewayBot()
        #expect(first.invalidAnswersCounted == 3 && first.invalidRequests == 3)
        #expect(await ledger(first).write(since: 0) == 3)
        #expect(await ledger(first).write(since: 3) == 3, "nothing new, nothing written")

        // Restarted two minutes later: the three count against the new process's budget.
        now.withLock { $0 += 120 }
        let second = client()
        #expect(await ledger(second).carryOver() == 3)
        #expect(second.invalidRequests == 3 && second.invalidAnswersCounted == 0)

        // Restarted past their ten minutes: nothing carried over.
        now.withLock { $0 += 600 }
        let third = client()
        #expect(await ledger(third).carryOver() == 0)
        #expect(third.invalidRequests == 0)
        await redis.close()
        try await server.stop()
    }
}
