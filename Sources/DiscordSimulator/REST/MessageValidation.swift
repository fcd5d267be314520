import Foundation

/// Discord's checks on a message body (create message, interaction responses, follow-ups): lengths,
/// embed limits, allowed mentions and components, reported as 50035 field errors or 50006. Lengths
/// are counted in code points, as Discord counts them (👍🏽 is two), not in what a reader sees.
enum MessageValidation {
    typealias FieldError = (path: String, code: String, message: String)

    /// Checks `fields`; `prefix` is the path of the message inside the body (`data.` for callbacks).
    /// - Parameter emptyAllowed: an edit, which may leave content, embeds and components as they are.
    static func check(_ fields: [String: Any], prefix: String = "", emptyAllowed: Bool = false) throws(DiscordError) {
        var errors: [FieldError] = []
        let content = fields["content"] as? String ?? ""
        if let value = fields["content"], !(value is String), !(value is NSNull) {
            errors.append((prefix + "content", "STRING_TYPE_CONVERT", "Could not interpret \"\(value)\" as string."))
        }
        if content.unicodeScalars.count > 2_000 { errors.append((prefix + "content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")) }
        if let nonce = fields["nonce"] as? String, nonce.unicodeScalars.count > 25 {
            errors.append((prefix + "nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        }
        let embeds = fields["embeds"] as? [[String: Any]] ?? []
        if embeds.count > 10 { errors.append((prefix + "embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")) }
        var embedCharacters = 0
        for (index, embed) in embeds.enumerated() {
            let path = "\(prefix)embeds.\(index)."
            for (field, limit) in [("title", 256), ("description", 4_096)] {
                let text = trimmed(embed[field])
                embedCharacters += text.unicodeScalars.count
                if text.unicodeScalars.count > limit { errors.append((path + field, "BASE_TYPE_MAX_LENGTH", "Must be \(limit) or fewer in length.")) }
            }
            let embedFields = embed["fields"] as? [[String: Any]] ?? []
            if embedFields.count > 25 { errors.append((path + "fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")) }
            for (fieldIndex, field) in embedFields.enumerated() {
                let name = trimmed(field["name"])
                let value = trimmed(field["value"])
                embedCharacters += name.unicodeScalars.count + value.unicodeScalars.count
                if name.isEmpty || name.unicodeScalars.count > 256 {
                    errors.append(("\(path)fields.\(fieldIndex).name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 256 in length."))
                }
                if value.isEmpty || value.unicodeScalars.count > 1_024 {
                    errors.append(("\(path)fields.\(fieldIndex).value", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1024 in length."))
                }
            }
            for (object, field, limit) in [("footer", "text", 2_048), ("author", "name", 256)] {
                let text = trimmed((embed[object] as? [String: Any])?[field])
                embedCharacters += text.unicodeScalars.count
                if text.unicodeScalars.count > limit { errors.append(("\(path)\(object).\(field)", "BASE_TYPE_MAX_LENGTH", "Must be \(limit) or fewer in length.")) }
            }
        }
        if embedCharacters > 6_000 {
            errors.append((prefix + "embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"))
        }
        if let mentions = fields["allowed_mentions"] as? [String: Any] {
            let parse = mentions["parse"] as? [Any] ?? []
            for (index, value) in parse.enumerated() where !["roles", "users", "everyone"].contains(value as? String ?? "") {
                errors.append(("\(prefix)allowed_mentions.parse.\(index)", "ENUM_TYPE_COERCE", "Value \"\(value)\" is not a valid enum value."))
            }
            for kind in ["users", "roles"] {
                if parse.contains(where: { ($0 as? String) == kind }), let ids = mentions[kind] as? [Any], !ids.isEmpty {
                    errors.append((prefix + "allowed_mentions", "MESSAGE_ALLOWED_MENTIONS_PARSE_EXCLUSIVE",
                                   "parse:[\"\(kind)\"] and \(kind): [ids...] are mutually exclusive."))
                }
                if (mentions[kind] as? [Any])?.count ?? 0 > 100 {
                    errors.append(("\(prefix)allowed_mentions.\(kind)", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
                }
            }
        }
        let rows = fields["components"] as? [[String: Any]] ?? []
        if rows.count > 5 { errors.append((prefix + "components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")) }
        for (rowIndex, row) in rows.enumerated() {
            let path = "\(prefix)components.\(rowIndex)."
            guard row["type"] as? Int == 1 else {
                errors.append((path + "type", "UNION_TYPE_CHOICES", "Value of field \"type\" must be one of (1,)."))
                continue
            }
            let children = row["components"] as? [[String: Any]] ?? []
            if children.isEmpty || children.count > 5 {
                errors.append((path + "components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."))
            }
            for (index, child) in children.enumerated() where child["type"] as? Int == 2 {
                let childPath = "\(path)components.\(index)."
                let style = child["style"] as? Int ?? 0
                if !(1...6).contains(style) { errors.append((childPath + "style", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")) }
                if style == 5 {
                    if child["url"] as? String == nil { errors.append((childPath + "url", "BASE_TYPE_REQUIRED", "This field is required")) }
                } else if (1...4).contains(style) {
                    let id = child["custom_id"] as? String ?? ""
                    if id.isEmpty { errors.append((childPath + "custom_id", "BASE_TYPE_REQUIRED", "This field is required")) }
                    if id.unicodeScalars.count > 100 { errors.append((childPath + "custom_id", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")) }
                }
                if (child["label"] as? String)?.unicodeScalars.count ?? 0 > 80 {
                    errors.append((childPath + "label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."))
                }
            }
        }
        guard errors.isEmpty else { throw .invalidFormBody(errors) }
        let hasStickers = !((fields["sticker_ids"] as? [Any]) ?? []).isEmpty
        if !emptyAllowed, content.isEmpty, embeds.isEmpty, rows.isEmpty, !hasStickers, fields["poll"] == nil { throw .cannotSendEmpty }
    }

    /// An embed text as Discord counts it: "Leading and trailing whitespace characters are not
    /// included (they are trimmed automatically)".
    private static func trimmed(_ value: Any?) -> String {
        (value as? String ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
