import DiscordModels
import Foundation
import Synchronization

/// The application's commands as bulk overwrites left them, global and per guild.
final class CommandStore: Sendable {
    private let state = Mutex<(global: [[String: any Sendable]], guilds: [GuildID: [[String: any Sendable]]], next: UInt64)>(([], [:], 1))

    /// Replaces the commands of `guild` (nil: global) and returns them as Discord does, with IDs
    /// (kept for commands whose name stays) and a version.
    func replace(_ commands: [[String: Any]], guild: GuildID?, applicationID: UInt64) -> [[String: Any]] {
        state.withLock { state in
            let previous = guild.map { state.guilds[$0] ?? [] } ?? state.global
            let stored: [[String: any Sendable]] = commands.map { command in
                let name = command["name"] as? String ?? ""
                let type = command["type"] as? Int ?? 1
                let existing = previous.first { $0["name"] as? String == name && $0["type"] as? Int == type }
                let id = existing?["id"] as? String ?? {
                    state.next += 1
                    return String(applicationID &+ state.next)
                }()
                state.next += 1
                var object: [String: any Sendable] = [
                    "id": id, "application_id": String(applicationID), "version": String(applicationID &+ state.next &* 7),
                    "name": name, "type": type, "description": command["description"] as? String ?? "",
                    "default_member_permissions": command["default_member_permissions"] as? String,
                    "nsfw": command["nsfw"] as? Bool ?? false, "integration_types": [0], "contexts": [0],
                ]
                if let guild { object["guild_id"] = guild.description }
                if let options = command["options"], let data = try? JSONSerialization.data(withJSONObject: options),
                   let text = String(data: data, encoding: .utf8) {
                    object["options_json"] = text
                }
                return object
            }
            if let guild { state.guilds[guild] = stored } else { state.global = stored }
            return stored.map(Self.rendered)
        }
    }

    /// The names of the commands registered (global when `guild` is nil).
    func names(guild: GuildID?) -> [String] {
        state.withLock { state in (guild.map { state.guilds[$0] ?? [] } ?? state.global).compactMap { $0["name"] as? String } }
    }

    private static func rendered(_ stored: [String: any Sendable]) -> [String: Any] {
        var object: [String: Any] = [:]
        for (key, value) in stored where key != "options_json" { object[key] = value as Any? ?? NSNull() }
        if object["default_member_permissions"] == nil { object["default_member_permissions"] = NSNull() }
        if let text = stored["options_json"] as? String, let options = try? JSONSerialization.jsonObject(with: Data(text.utf8)) {
            object["options"] = options
        }
        return object
    }
}
