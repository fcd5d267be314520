import Testing
@testable import DiscordSimulator

/// A bulk overwrite of application commands is judged as Discord documents it.
struct CommandValidationTests {
    func commands(_ count: Int, type: Int, prefix: String = "c") -> [[String: Any]] {
        (0..<count).map { ["name": "\(prefix)\($0)", "type": type, "description": type == 1 ? "Does \($0)" : ""] }
    }

    func code(_ list: [[String: Any]], global: Bool = true) -> Int? {
        do {
            try CommandValidation.check(list, global: global)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func namesFollowDiscordsPatternAndCase() {
        #expect(CommandValidation.isValidName("don't-warn_2", type: 1))
        #expect(CommandValidation.isValidName("नमस्ते", type: 1), "Devanagari, vowel signs included")
        #expect(CommandValidation.isValidName("สวัสดี", type: 1), "Thai, marks included")
        #expect(CommandValidation.isValidName("ランク", type: 1), "uncased letters")
        #expect(!CommandValidation.isValidName("Rank", type: 1), "a letter with a lowercase form must be lowercase")
        #expect(!CommandValidation.isValidName("rank card", type: 1))
        #expect(CommandValidation.isValidName("Rank Card", type: 2) && CommandValidation.isValidName("Report Message", type: 3))
        #expect(!CommandValidation.isValidName("rank!", type: 1) && !CommandValidation.isValidName("", type: 2))
        #expect(!CommandValidation.isValidName(String(repeating: "a", count: 33), type: 1))
    }

    @Test func eachTypeHasItsOwnLimitPerScope() {
        let full = commands(100, type: 1) + commands(15, type: 2, prefix: "User ") + commands(15, type: 3, prefix: "Message ")
        #expect(code(full) == nil, "100 slash, 15 user and 15 message commands fit together")
        #expect(code(full + [["name": "launch", "type": 4]]) == nil, "one entry point, globally")
        #expect(code(full + [["name": "launch", "type": 4]], global: false) == 30032, "none in a guild")
        #expect(code(commands(101, type: 1)) == 30032)
        #expect(code(commands(16, type: 2, prefix: "User ")) == 30032)
        #expect(code([["name": "odd", "type": 9]]) == 50035)
        #expect(code([["name": "rank", "type": 1], ["name": "rank", "type": 2]]) == 50035, "a slash command needs a description")
        #expect(code([["name": "rank", "type": 2], ["name": "rank", "type": 3]]) == nil, "names are unique per type")
        #expect(code([["name": "rank", "type": 2], ["name": "rank", "type": 2]]) == 50035)
    }
}
