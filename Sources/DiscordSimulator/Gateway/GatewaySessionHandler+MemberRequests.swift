import DiscordModels
import Foundation
import NIOCore

extension GatewaySessionHandler {
    /// Request Soundboard Sounds (op 31): a SOUNDBOARD_SOUNDS dispatch for each of the session's
    /// guilds asked for (none of the world's guilds has sounds of its own: an empty list, as their
    /// GUILD_CREATE says); IDs of other guilds are passed over.
    func requestSoundboardSounds(_ guilds: [Any], _ context: ChannelHandlerContext) {
        guard let session else { return }
        for id in guilds.compactMap(Self.snowflake) where session.shardGuilds.contains(GuildID(id)) {
            dispatch("SOUNDBOARD_SOUNDS", #"{"soundboard_sounds":[],"guild_id":"\#(id)"}"#, context)
        }
    }

    /// Request Channel Info (op 43): a CHANNEL_INFO dispatch with the ephemeral data (voice status,
    /// voice start time) of the guild's voice channels — the world's channels are all text channels,
    /// so an empty list; a guild the session does not have is passed over.
    func requestChannelInfo(_ data: [String: Any], _ context: ChannelHandlerContext) {
        guard let session, let id = Self.snowflake(data["guild_id"]), session.shardGuilds.contains(GuildID(id)) else { return }
        dispatch("CHANNEL_INFO", #"{"guild_id":"\#(id)","channels":[]}"#, context)
    }

    /// Request Guild Members (op 8): one guild; every member (`query: ""`, `limit: 0`), members
    /// whose username starts with `query` (at most `limit`, at most 100; an empty query, like the
    /// whole list, needs the GUILD_MEMBERS intent and is otherwise ignored, as Discord says), or up
    /// to 100 `user_ids`. Answered with
    /// GUILD_MEMBERS_CHUNK dispatches of up to 1,000 members, echoing a nonce of up to 32 bytes; a
    /// whole guild asked for again within ``MemberRequestLimiter/window`` gets RATE_LIMITED.
    func requestGuildMembers(_ data: [String: Any], _ context: ChannelHandlerContext) {
        guard let session, let id = Self.snowflake(data["guild_id"]),
              let guild = configuration.world.guilds.first(where: { $0.id.rawValue == id }), session.shardGuilds.contains(guild.id)
        else { return }
        var nonceField = ""
        var nonceJSON: String?
        if let nonce = data["nonce"] as? String, nonce.utf8.count <= 32,
           let encoded = try? JSONSerialization.data(withJSONObject: nonce, options: [.fragmentsAllowed]) {
            nonceJSON = String(decoding: encoded, as: UTF8.self)
            nonceField = #","nonce":"# + String(decoding: encoded, as: UTF8.self)
        }
        let selection: WorldPayloads.MemberSelection
        if let ids = data["user_ids"] {
            let wanted = ((ids as? [Any]) ?? [ids]).compactMap(Self.snowflake).prefix(100)
            selection = .users(Array(wanted))
        } else {
            let query = (data["query"] as? String) ?? ""
            let limit = (data["limit"] as? Int) ?? 0
            // An empty query asks for the member list, whatever the limit: GUILD_MEMBERS needed.
            if query.isEmpty, !session.intents.contains(.guildMembers) { return }
            if query.isEmpty && limit == 0 {
                if let wait = memberRequests.admit(guild: guild.id.rawValue) {
                    let seconds = Double(wait.nanoseconds) / 1e9
                    let meta = #"{"guild_id":"\#(guild.id)""# + (nonceJSON.map { #","nonce":"# + $0 } ?? "") + "}"
                    return dispatch("RATE_LIMITED", #"{"opcode":8,"retry_after":\#(seconds),"meta":\#(meta)}"#, context)
                }
                selection = .all
            } else {
                selection = .prefix(query.lowercased(), limit: min(max(limit, 1), 100))
            }
        }
        let members = (guildStates.members(of: guild.id) ?? []).sorted { $0.joinedAt < $1.joinedAt }
        let chunks = WorldPayloads(configuration: configuration).memberChunks(guild, members: members, selection)
        for (index, chunk) in chunks.enumerated() {
            let notFound = chunk.notFound.map { "\"\($0)\"" }.joined(separator: ",")
            dispatch("GUILD_MEMBERS_CHUNK", #"{"guild_id":"\#(guild.id)","members":[\#(chunk.members)],"chunk_index":\#(index),"chunk_count":\#(chunks.count),"not_found":[\#(notFound)]\#(nonceField)}"#, context)
        }
    }

    /// A snowflake sent as a string or a number.
    private static func snowflake(_ value: Any?) -> UInt64? {
        (value as? String).flatMap(UInt64.init) ?? (value as? NSNumber)?.uint64Value
    }
}
