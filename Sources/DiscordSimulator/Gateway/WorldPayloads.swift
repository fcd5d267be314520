import DiscordModels
import Foundation

/// READY and GUILD_CREATE for a simulated session, in the shapes Discord sends.
struct WorldPayloads {
    let configuration: SimulatorConfiguration

    /// The guilds a shard serves: `(guild_id >> 22) % shard_count == shard_id`.
    func guilds(shard: Int, of count: Int) -> [TrafficWorld.Guild] {
        configuration.world.guilds.filter { Int(($0.id.rawValue >> 22) % UInt64(count)) == shard }
    }

    /// The application flags Discord reports for the approved privileged intents.
    var applicationFlags: UInt64 {
        var flags: UInt64 = 0
        if configuration.approvedPrivilegedIntents.contains(.guildPresences) { flags |= 1 << 12 }
        if configuration.approvedPrivilegedIntents.contains(.guildMembers) { flags |= 1 << 14 }
        if configuration.approvedPrivilegedIntents.contains(.messageContent) { flags |= 1 << 18 }
        return flags
    }

    var botUser: String {
        #"{"verified":true,"username":"\#(configuration.botUsername)","mfa_enabled":false,"id":"\#(configuration.botUserID)","global_name":null,"flags":0,"email":null,"discriminator":"0","bot":true,"avatar":null}"#
    }

    /// The application object (`/oauth2/applications/@me`); its owner is the world's first user.
    var application: String {
        let owner = configuration.world.users[0]
        let ownerJSON = #"{"id":"\#(owner.id)","username":"\#(owner.username)","global_name":null,"avatar":null,"discriminator":"0","public_flags":0,"flags":0}"#
        return #"{"id":"\#(configuration.applicationID)","name":"\#(configuration.botUsername)","icon":null,"description":"","summary":"","type":null,"hook":true,"bot_public":true,"bot_require_code_grant":false,"verify_key":"\#(String(repeating: "0f", count: 32))","owner":\#(ownerJSON),"flags":\#(applicationFlags),"team":null,"bot":\#(botUser),"redirect_uris":[],"interactions_endpoint_url":null,"approximate_guild_count":\#(configuration.world.guilds.count),"tags":[]}"#
    }

    /// READY on a connection of gateway version `version`; `shard` is included only when the
    /// identify sent one, as Discord does.
    func ready(version: Int = 10, sessionID: String, resumeURL: String, shard: [Int]?, guilds: [TrafficWorld.Guild]) -> String {
        let stubs = guilds.map { #"{"unavailable":true,"id":"\#($0.id)"}"# }.joined(separator: ",")
        let shardField = shard.map { #","shard":[\#($0[0]),\#($0[1])]"# } ?? ""
        return #"{"v":\#(version),"user_settings":{},"user":\#(botUser),"session_type":"normal","session_id":"\#(sessionID)","resume_gateway_url":"\#(resumeURL)","relationships":[],"private_channels":[],"presences":[],"guilds":[\#(stubs)],"guild_join_requests":[],"geo_ordered_rtc_regions":["us-east"],"auth":{},"application":{"id":"\#(configuration.applicationID)","flags":\#(applicationFlags)},"_trace":["[\"gateway-simulator\"]"]\#(shardField)}"#
    }

    /// Which members an op 8 request asks for.
    enum MemberSelection {
        case all
        case prefix(String, limit: Int)
        case users([UInt64])
    }

    /// A guild's members (the bot included) as GUILD_MEMBERS_CHUNK `members` arrays of up to
    /// 1,000, with the requested IDs that are not members in the last chunk's `not_found`.
    func memberChunks(
        _ guild: TrafficWorld.Guild, members current: [GuildStates.Member], _ selection: MemberSelection
    ) -> [(members: String, notFound: [UInt64])] {
        var members: [(id: UInt64, name: String, json: String)] = current.map { member in
            let user = member.user
            let avatar = user.avatar.map { "\"\($0)\"" } ?? "null"
            let bot = user.isBot ? #","bot":true"# : ""
            let joined = DiscordTimestamp.iso8601(unixMilliseconds: member.joinedAt)
            let roles = member.roles.map { "\"\($0)\"" }.joined(separator: ",")
            // A nickname is whatever a REST call set: escaped, never pasted.
            let nick = member.nick.map(Self.jsonString) ?? "null"
            let timeout = member.timeoutUntil.map(Self.jsonString) ?? "null"
            return (user.id.rawValue, user.username, #"{"user":{"id":"\#(user.id)","username":"\#(user.username)","global_name":null,"avatar":\#(avatar),"discriminator":"0","public_flags":0\#(bot)},"roles":[\#(roles)],"joined_at":"\#(joined)","deaf":false,"mute":false,"flags":\#(member.flags),"pending":\#(member.pending),"premium_since":null,"nick":\#(nick),"avatar":null,"communication_disabled_until":\#(timeout)}"#)
        }
        let created = DiscordTimestamp.iso8601(unixMilliseconds: guild.id.unixMilliseconds)
        members.append((configuration.botUserID.rawValue, configuration.botUsername,
                        #"{"user":\#(botUser),"roles":["\#(configuration.world.botRoleID(of: guild))"],"joined_at":"\#(created)","deaf":false,"mute":false,"flags":0,"pending":false,"premium_since":null,"nick":null,"avatar":null,"communication_disabled_until":null}"#))
        var notFound: [UInt64] = []
        switch selection {
        case .all:
            break
        case .prefix(let query, let limit):
            members = Array(members.filter { $0.name.lowercased().hasPrefix(query) }.prefix(limit))
        case .users(let ids):
            let byID = Dictionary(members.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            members = ids.compactMap { byID[$0] }
            notFound = ids.filter { byID[$0] == nil }
        }
        let jsons = members.map(\.json)
        var chunks = stride(from: 0, to: jsons.count, by: 1_000).map { (members: jsons[$0..<min($0 + 1_000, jsons.count)].joined(separator: ","), notFound: [UInt64]()) }
        if chunks.isEmpty { chunks = [("", [])] }
        chunks[chunks.count - 1].notFound = notFound
        return chunks
    }

    /// GUILD_CREATE; `large` when the member count passes the identify's `large_threshold`.
    /// - Parameters:
    ///   - threads: the guild's active threads, a JSON array of channel objects.
    ///   - current: the guild as traffic and REST left it (members joined and gone, channels made,
    ///     changed or deleted); nil when the world's own is current.
    func guildCreate(_ guild: TrafficWorld.Guild, largeThreshold: Int, threads: String = "[]", current: GuildStates.Snapshot? = nil) -> String {
        let index = configuration.world.guilds.firstIndex { $0.id == guild.id } ?? 0
        let created = DiscordTimestamp.iso8601(unixMilliseconds: guild.id.unixMilliseconds)
        let everyone = #"{"id":"\#(guild.id)","name":"@everyone","color":0,"hoist":false,"icon":null,"unicode_emoji":null,"position":0,"permissions":"\#(Permissions.everyoneDefault.rawValue)","managed":false,"mentionable":false,"flags":0}"#
        let roles = [everyone] + configuration.world.roles(of: guild).map { role in
            let tags = role.managed ? #","tags":{"bot_id":"\#(configuration.botUserID)"}"# : ""
            return #"{"id":"\#(role.id)","name":"\#(role.name)","color":\#((role.position * 0x2F1A3B) & 0xFFFFFF),"hoist":false,"icon":null,"unicode_emoji":null,"position":\#(role.position),"permissions":"\#(role.permissions.rawValue)","managed":\#(role.managed),"mentionable":\#(!role.managed),"flags":0\#(tags)}"#
        }
        let channels = current.map { $0.channels.map(Self.channelJSON) } ?? guild.channels.enumerated().map { position, channel in
            #"{"id":"\#(channel)","type":0,"name":"channel-\#(position + 1)","position":\#(position),"permission_overwrites":[],"parent_id":null,"topic":null,"nsfw":false,"last_message_id":null,"rate_limit_per_user":0,"flags":0}"#
        }
        let memberCount = (current?.memberCount ?? guild.members.count) + 1
        // Discord clears the system channel when it is deleted.
        let systemChannelKept = current.map { $0.channels.contains { $0.id == guild.channels[0] } } ?? true
        let systemChannel = systemChannelKept ? #""\#(guild.channels[0])""# : "null"
        let owner = configuration.world.users[guild.members[0]].id
        // A community guild names its rules and moderators' updates channels (here the system channel).
        let community = configuration.world.screensNewMembers(guild)
        let rulesChannel = community ? systemChannel : "null"
        let botMember = #"{"user":\#(botUser),"roles":["\#(configuration.world.botRoleID(of: guild))"],"joined_at":"\#(created)","deaf":false,"mute":false,"flags":0,"pending":false,"premium_since":null,"nick":null,"avatar":null,"communication_disabled_until":null}"#
        return #"{"id":"\#(guild.id)","name":"Guild \#(index + 1)","icon":null,"splash":null,"discovery_splash":null,"owner_id":"\#(owner)","afk_channel_id":null,"afk_timeout":300,"verification_level":1,"default_message_notifications":1,"explicit_content_filter":2,"roles":[\#(roles.joined(separator: ","))],"emojis":[],"features":\#(configuration.world.featuresJSON(of: guild)),"mfa_level":0,"application_id":null,"system_channel_id":\#(systemChannel),"system_channel_flags":0,"rules_channel_id":\#(rulesChannel),"max_members":500000,"vanity_url_code":null,"description":null,"banner":null,"premium_tier":0,"premium_subscription_count":0,"preferred_locale":"en-US","public_updates_channel_id":\#(rulesChannel),"nsfw_level":0,"stickers":[],"premium_progress_bar_enabled":false,"safety_alerts_channel_id":null,"joined_at":"\#(created)","large":\#(memberCount > largeThreshold),"unavailable":false,"member_count":\#(memberCount),"voice_states":[],"members":[\#(botMember)],"channels":[\#(channels.joined(separator: ","))],"threads":\#(threads),"presences":[],"stage_instances":[],"guild_scheduled_events":[],"soundboard_sounds":[],"lazy":true}"#
    }

    /// A guild channel as GUILD_CREATE lists it (no `guild_id`: the guild says it).
    static func channelJSON(_ channel: GuildStates.Channel) -> String {
        let overwrites = channel.overwrites.map { #"{"id":"\#($0.id)","type":\#($0.type),"allow":"\#($0.allow)","deny":"\#($0.deny)"}"# }
        let parent = channel.parentID.map { #""\#($0)""# } ?? "null"
        let topic = channel.topic.map(jsonString) ?? "null"
        return #"{"id":"\#(channel.id)","type":\#(channel.type),"name":\#(jsonString(channel.name)),"position":\#(channel.position),"permission_overwrites":[\#(overwrites.joined(separator: ","))],"parent_id":\#(parent),"topic":\#(topic),"nsfw":false,"last_message_id":null,"rate_limit_per_user":0,"flags":0}"#
    }

    /// `text` as a JSON string literal.
    static func jsonString(_ text: String) -> String {
        // Most names are plain ASCII (the world's are `channel-N`): quoted as they are, without
        // JSONSerialization — a GUILD_CREATE burst may render tens of thousands.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        let data = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
