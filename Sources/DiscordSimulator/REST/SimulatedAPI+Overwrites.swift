import DiscordModels
import Foundation

/// Permission overwrites in channel requests: their parsing, and what a bot may put in them.
extension SimulatedAPI {
    /// Whether the bot may set `overwrites` on a channel it creates: "only permissions your bot has
    /// in the guild can be allowed/denied. Setting MANAGE_ROLES permission in channels is only
    /// possible for guild administrators."
    func mayCreateChannel(with overwrites: [GuildStates.Overwrite], in guild: GuildStates.Guild) -> Bool {
        let held = botPermissions(in: guild)
        if held.contains(.administrator) { return true }
        return overwrites.allSatisfy { overwrite in
            let touched = overwrite.allow | overwrite.deny
            return touched & ~held.rawValue == 0 && touched & Permissions.manageRoles.rawValue == 0
        }
    }

    /// Whether the bot may replace `channel`'s overwrites with `overwrites`: it needs Manage Roles,
    /// and "only permissions your bot has in the guild or parent channel (if applicable) can be
    /// allowed/denied (unless your bot has a MANAGE_ROLES overwrite in the channel)".
    /// - Parameter inParent: the bot's permissions in the channel's parent, if it has one.
    func mayModify(
        _ channel: GuildStates.Channel, overwrites: [GuildStates.Overwrite], in guild: GuildStates.Guild, inParent: Permissions?
    ) -> Bool {
        let inGuild = botPermissions(in: guild)
        if inGuild.contains(.administrator) { return true }
        guard inGuild.contains(.manageRoles) else { return false }
        let botTargets: Set<UInt64> = [guild.id.rawValue, guild.botRole.rawValue, configuration.botUserID.rawValue]
        let grantedHere = channel.overwrites.contains { botTargets.contains($0.id) && $0.allow & Permissions.manageRoles.rawValue != 0 }
        if grantedHere { return true }
        let held = inGuild.rawValue | (inParent?.rawValue ?? 0)
        return overwrites.allSatisfy { ($0.allow | $0.deny) & ~held == 0 }
    }

    /// The `permission_overwrites` of a channel request; nil when absent.
    static func overwrites(_ value: Any?) throws(DiscordError) -> [GuildStates.Overwrite]? {
        guard let value else { return nil }
        guard let list = value as? [[String: Any]] else {
            throw .invalidFormBody([("permission_overwrites", "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")])
        }
        var result: [GuildStates.Overwrite] = []
        for (index, item) in list.enumerated() {
            func number(_ key: String) -> UInt64? {
                if let text = item[key] as? String { return UInt64(text) }
                return (item[key] as? NSNumber)?.uint64Value
            }
            guard let id = number("id"), let type = item["type"] as? Int, type == 0 || type == 1 else {
                throw .invalidFormBody([("permission_overwrites.\(index)", "BASE_TYPE_REQUIRED", "id and type (0 or 1) are required")])
            }
            result.append(GuildStates.Overwrite(id: id, type: type, allow: number("allow") ?? 0, deny: number("deny") ?? 0))
        }
        return result
    }
}
