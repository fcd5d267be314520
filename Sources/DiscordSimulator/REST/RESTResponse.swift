import Foundation

/// An answer of the simulated REST API: status, headers and a JSON body (empty for 204).
struct RESTResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: String

    static func json(_ status: Int, _ body: String) -> RESTResponse {
        RESTResponse(status: status, body: body)
    }

    static let noContent = RESTResponse(status: 204, body: "")

    /// Discord's error body: `{"message": …, "code": …}`, plus `errors` for field errors.
    static func error(_ status: Int, _ error: DiscordError) -> RESTResponse {
        RESTResponse(status: status, body: error.json)
    }
}

/// One of Discord's JSON error codes, with the field errors of an invalid form body.
struct DiscordError: Error, Sendable {
    let code: Int
    let message: String
    /// Field path (`embeds.0.title`) → (error code, message).
    var fieldErrors: [(path: String, code: String, message: String)] = []

    static let unknownChannel = DiscordError(code: 10003, message: "Unknown Channel")
    static let unknownGuild = DiscordError(code: 10004, message: "Unknown Guild")
    static let unknownMember = DiscordError(code: 10007, message: "Unknown Member")
    static let unknownMessage = DiscordError(code: 10008, message: "Unknown Message")
    static let unknownRole = DiscordError(code: 10011, message: "Unknown Role")
    static let unknownUser = DiscordError(code: 10013, message: "Unknown User")
    static let unknownBan = DiscordError(code: 10026, message: "Unknown Ban")
    static let unknownWebhook = DiscordError(code: 10015, message: "Unknown Webhook")
    static let unknownInteraction = DiscordError(code: 10062, message: "Unknown interaction")
    static let alreadyAcknowledged = DiscordError(code: 40060, message: "Interaction has already been acknowledged.")
    static let missingAccess = DiscordError(code: 50001, message: "Missing Access")
    static let cannotSendEmpty = DiscordError(code: 50006, message: "Cannot send an empty message")
    static let missingPermissions = DiscordError(code: 50013, message: "Missing Permissions")
    static let notATextChannel = DiscordError(code: 50008, message: "Cannot send messages in a non-text channel")
    static let invalidJSON = DiscordError(code: 50109, message: "The request body contains invalid JSON.")
    static let bulkBanFailed = DiscordError(code: 500000, message: "Failed to ban users")

    /// 50035 with the given field errors; a path of "" is an error of the request itself (Discord's
    /// `errors._errors`), a dotted path one of a field (`errors.a.0.b._errors`).
    static func invalidFormBody(_ errors: [(path: String, code: String, message: String)]) -> DiscordError {
        DiscordError(code: 50035, message: "Invalid Form Body", fieldErrors: errors)
    }

    var json: String {
        var object: [String: Any] = ["code": code, "message": message]
        if !fieldErrors.isEmpty {
            var tree: [String: Any] = [:]
            for error in fieldErrors {
                insert(["code": error.code, "message": error.message], at: error.path.split(separator: ".").map(String.init), into: &tree)
            }
            object["errors"] = tree
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    private func insert(_ error: [String: String], at path: [String], into tree: inout [String: Any]) {
        guard let first = path.first else {
            tree["_errors"] = (tree["_errors"] as? [[String: String]] ?? []) + [error]
            return
        }
        var child = tree[first] as? [String: Any] ?? [:]
        if path.count == 1 {
            child["_errors"] = (child["_errors"] as? [[String: String]] ?? []) + [error]
        } else {
            insert(error, at: Array(path.dropFirst()), into: &child)
        }
        tree[first] = child
    }
}
