/// Discord's checks on a bulk overwrite of application commands: each command's type, name and
/// description (50035 field errors), names unique per type, and how many of each type a scope may
/// hold (30032).
enum CommandValidation {
    static let tooManyCommands = DiscordError(code: 30032, message: "Maximum number of application commands reached")

    /// The most commands of `type` an application may have in one scope: 100 CHAT_INPUT, 15 USER,
    /// 15 MESSAGE, one PRIMARY_ENTRY_POINT (global only); nil for a type Discord does not have.
    static func limit(ofType type: Int, global: Bool) -> Int? {
        switch type {
        case 1: 100
        case 2, 3: 15
        case 4: global ? 1 : 0
        default: nil
        }
    }

    static func check(_ list: [[String: Any]], global: Bool) throws(DiscordError) {
        var errors: [MessageValidation.FieldError] = []
        var seen = Set<String>()
        var counts: [Int: Int] = [:]
        for (index, command) in list.enumerated() {
            let type = command["type"] as? Int ?? 1
            guard limit(ofType: type, global: global) != nil else {
                errors.append(("\(index).type", "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}."))
                continue
            }
            counts[type, default: 0] += 1
            let name = command["name"] as? String ?? ""
            if !isValidName(name, type: type) {
                errors.append(("\(index).name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"))
            }
            let description = command["description"] as? String ?? ""
            if type == 1, !(1...100).contains(description.count) {
                errors.append(("\(index).description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."))
            }
            if !seen.insert("\(type):\(name)").inserted {
                errors.append(("\(index).name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"))
            }
        }
        guard errors.isEmpty else { throw .invalidFormBody(errors) }
        for (type, count) in counts where count > limit(ofType: type, global: global) ?? 0 { throw tooManyCommands }
    }

    /// `^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$`, lowercase where a letter has a lowercase
    /// form, for CHAT_INPUT; USER and MESSAGE names "may be mixed case and can include spaces".
    static func isValidName(_ name: String, type: Int) -> Bool {
        guard (1...32).contains(name.unicodeScalars.count) else { return false }
        if type == 1, name != name.lowercased() { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            switch scalar {
            case "-", "_", "'": return true
            case " ": return type != 1
            default: break
            }
            switch scalar.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
                 .decimalNumber, .letterNumber, .otherNumber:
                return true
            default:
                // Devanagari and Thai in full, their vowel signs and marks included.
                return (0x0900...0x097F).contains(scalar.value) || (0xA8E0...0xA8FF).contains(scalar.value)
                    || (0x0E00...0x0E7F).contains(scalar.value)
            }
        }
    }
}
