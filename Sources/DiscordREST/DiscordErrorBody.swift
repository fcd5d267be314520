import Foundation

/// Discord's error JSON — `{"code": 50035, "message": "Invalid Form Body", "errors": {…}}` — turned
/// into a ``RESTError`` with the field errors flattened to paths (`embeds.0.title`).
enum DiscordErrorBody {
    static func error(status: Int, body: [UInt8]) -> RESTError {
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            return RESTError(.discord(status: status, code: 0, message: text.isEmpty ? "HTTP \(status)" : text))
        }
        let code = json["code"] as? Int ?? 0
        let message = json["message"] as? String ?? "HTTP \(status)"
        var fields: [RESTError.FieldError] = []
        if let errors = json["errors"] as? [String: Any] { collect(errors, path: [], into: &fields) }
        return RESTError(.discord(status: status, code: code, message: message), fieldErrors: fields)
    }

    private static func collect(_ node: [String: Any], path: [String], into fields: inout [RESTError.FieldError]) {
        for key in node.keys.sorted() {
            if key == "_errors", let list = node[key] as? [[String: Any]] {
                for entry in list {
                    fields.append(RESTError.FieldError(
                        path: path.joined(separator: "."), code: entry["code"] as? String ?? "", message: entry["message"] as? String ?? ""))
                }
            } else if let child = node[key] as? [String: Any] {
                collect(child, path: path + [key], into: &fields)
            }
        }
    }
}
