/// The REST endpoints the simulator serves, matched from `METHOD /path` (below `/api/v10`), with
/// the rate-limit bucket each belongs to — as Discord groups them: a route template plus its major
/// parameter (channel, guild, or webhook + token), some templates sharing one bucket.
struct RESTRoute: Sendable, Equatable {
    enum Endpoint: Sendable, Equatable {
        case gateway, gatewayBot, currentUser, currentUserGuilds, currentApplication
        case createMessage, createDM
        case addMemberRole, removeMemberRole, getMember, modifyMember, kickMember
        case ban, unban, bulkBan
        case createChannel, modifyChannel, deleteChannel
        case overwriteGlobalCommands, overwriteGuildCommands
        case interactionCallback, createFollowup, editFollowup, deleteFollowup
    }

    let endpoint: Endpoint
    /// The template, such as `PUT /guilds/{guild.id}/members/{user.id}/roles/{role.id}`.
    let template: String
    /// The path's parameters by name (`guild.id`, `user.id`, …).
    let parameters: [String: String]
    /// The rate-limit group whose hash the bucket header carries (shared by some templates).
    let bucketGroup: String
    /// The value of the major parameter, which splits a group into buckets.
    let majorParameter: String

    /// The interaction endpoints — the callback, the original response, follow-ups — authorised
    /// by the interaction's token in the path, not the bot's.
    var isInteractionEndpoint: Bool {
        switch endpoint {
        case .interactionCallback, .createFollowup, .editFollowup, .deleteFollowup: true
        default: false
        }
    }

    /// The interaction endpoints do not count against the global limit ("not bound to the
    /// application's Global Rate Limit").
    var isExemptFromGlobalLimit: Bool { isInteractionEndpoint }

    private static let table: [(method: String, pattern: String, endpoint: Endpoint, group: String, major: String?)] = [
        ("GET", "/gateway", .gateway, "gateway", nil),
        ("GET", "/gateway/bot", .gatewayBot, "gateway-bot", nil),
        ("GET", "/users/@me", .currentUser, "users-me", nil),
        ("GET", "/users/@me/guilds", .currentUserGuilds, "users-me-guilds", nil),
        ("GET", "/oauth2/applications/@me", .currentApplication, "application", nil),
        ("POST", "/channels/{channel.id}/messages", .createMessage, "messages", "channel.id"),
        ("POST", "/users/@me/channels", .createDM, "dm", nil),
        ("PUT", "/guilds/{guild.id}/members/{user.id}/roles/{role.id}", .addMemberRole, "member-roles", "guild.id"),
        ("DELETE", "/guilds/{guild.id}/members/{user.id}/roles/{role.id}", .removeMemberRole, "member-roles", "guild.id"),
        ("GET", "/guilds/{guild.id}/members/{user.id}", .getMember, "member-get", "guild.id"),
        ("PATCH", "/guilds/{guild.id}/members/{user.id}", .modifyMember, "member-modify", "guild.id"),
        ("DELETE", "/guilds/{guild.id}/members/{user.id}", .kickMember, "member-kick", "guild.id"),
        ("PUT", "/guilds/{guild.id}/bans/{user.id}", .ban, "bans", "guild.id"),
        ("DELETE", "/guilds/{guild.id}/bans/{user.id}", .unban, "unbans", "guild.id"),
        ("POST", "/guilds/{guild.id}/bulk-ban", .bulkBan, "bulk-ban", "guild.id"),
        ("POST", "/guilds/{guild.id}/channels", .createChannel, "channel-create", "guild.id"),
        ("PATCH", "/channels/{channel.id}", .modifyChannel, "channel-modify", "channel.id"),
        ("DELETE", "/channels/{channel.id}", .deleteChannel, "channel-delete", "channel.id"),
        ("PUT", "/applications/{application.id}/commands", .overwriteGlobalCommands, "commands", nil),
        ("PUT", "/applications/{application.id}/guilds/{guild.id}/commands", .overwriteGuildCommands, "guild-commands", "guild.id"),
        ("POST", "/interactions/{interaction.id}/{interaction.token}/callback", .interactionCallback, "interaction-callback", "interaction.id"),
        ("POST", "/webhooks/{application.id}/{interaction.token}", .createFollowup, "webhook", "interaction.token"),
        ("PATCH", "/webhooks/{application.id}/{interaction.token}/messages/{message.id}", .editFollowup, "webhook", "interaction.token"),
        ("DELETE", "/webhooks/{application.id}/{interaction.token}/messages/{message.id}", .deleteFollowup, "webhook", "interaction.token"),
    ]

    /// The route for a request, or nil when the simulator does not serve it (404).
    static func match(method: String, path: String) -> RESTRoute? {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        for entry in table where entry.method == method {
            let pattern = entry.pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
            guard pattern.count == components.count else { continue }
            var parameters: [String: String] = [:]
            var matches = true
            for (part, actual) in zip(pattern, components) {
                if part.hasPrefix("{") {
                    // A literal segment of another route (`@me`) is not a parameter value here.
                    guard !actual.isEmpty, actual != "@me" || part == "{message.id}" else {
                        matches = false
                        break
                    }
                    parameters[String(part.dropFirst().dropLast())] = String(actual)
                } else if part != actual {
                    matches = false
                    break
                }
            }
            guard matches else { continue }
            return RESTRoute(
                endpoint: entry.endpoint, template: "\(method) \(entry.pattern)", parameters: parameters,
                bucketGroup: entry.group, majorParameter: entry.major.flatMap { parameters[$0] } ?? "")
        }
        return nil
    }

    /// A path parameter that names a snowflake, or nil when it is not one.
    func snowflake(_ name: String) -> UInt64? {
        parameters[name].flatMap(UInt64.init)
    }
}
