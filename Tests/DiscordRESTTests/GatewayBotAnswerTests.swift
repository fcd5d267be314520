import DiscordREST
import Foundation
import Testing

/// `GET /gateway/bot`'s session start limit plans the session budget: counts no gateway gives (a
/// REST proxy's mistake) are refused with what was said, not planned on — a reset years away held
/// every identify back, and one past Redis's expiry range failed every seed of the budget.
struct GatewayBotAnswerTests {
    func answer(total: Int = 1_000, remaining: Int = 998, resetAfter: Int = 14_400_000) -> Data {
        Data("""
            {"url": "wss://gateway.discord.gg", "shards": 2, "session_start_limit": \
            {"total": \(total), "remaining": \(remaining), "reset_after": \(resetAfter), "max_concurrency": 1}}
            """.utf8)
    }

    @Test func discordsAnswerIsRead() throws {
        let limit = try JSONDecoder().decode(GatewayBot.self, from: answer()).sessionStartLimit
        #expect(limit == GatewayBot.SessionStartLimit(total: 1_000, remaining: 998, resetAfter: 14_400_000, maxConcurrency: 1))
        // The edges Discord can reach: nothing left, a reset due now, a whole day.
        #expect(try JSONDecoder().decode(GatewayBot.self, from: answer(remaining: 0, resetAfter: 0)).sessionStartLimit.remaining == 0)
        #expect(try JSONDecoder().decode(GatewayBot.self, from: answer(resetAfter: 86_400_000)).sessionStartLimit.resetAfter == 86_400_000)
    }

    @Test(arguments: [
        (0, 5, 1_000, "total is 0"), (1_000, -1, 1_000, "remaining is -1"), (1_000, 5, -1, "reset_after is -1"),
        (1_000, 5, Int.max, "reset_after is \(Int.max)"), (1_000, 5, 2 * 86_400_000 + 1, "reset_after is 172800001"),
    ])
    func countsNoGatewayGivesAreRefused(total: Int, remaining: Int, resetAfter: Int, said: String) throws {
        let error = try #require(throws: DecodingError.self) {
            try JSONDecoder().decode(GatewayBot.self, from: answer(total: total, remaining: remaining, resetAfter: resetAfter))
        }
        #expect("\(error)".contains("session_start_limit.\(said)"), "\(error)")
    }
}
