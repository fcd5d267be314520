import DiscordGateway
import DiscordModels

/// Dispatches shaped as Discord sends them, for the guild-actor tests.
enum TestDispatches {
    static let guild: UInt64 = 81_384_788_765_712_384

    /// A message ID whose snowflake time is `seconds` after 2025-01-01.
    static func messageID(atSecond seconds: UInt64, increment: UInt64 = 0) -> UInt64 {
        MessageID(unixMilliseconds: 1_735_689_600_000 + seconds * 1_000, increment: increment).rawValue
    }

    static func dispatch(_ name: String, _ data: String, guild: UInt64 = guild) -> ShardDispatch {
        let payload = #"{"op":0,"s":1,"t":"\#(name)","d":\#(data)}"#
        return ShardDispatch(payload: Array(payload.utf8))!
    }

    static func message(
        id: UInt64, author: UInt64, bot: Bool = false, webhook: Bool = false, type: Int = 0, channel: UInt64 = 700,
        roles: [UInt64] = [], guild: UInt64 = guild
    ) -> ShardDispatch {
        let roleList = roles.map { "\"\($0)\"" }.joined(separator: ",")
        let webhookField = webhook ? #""webhook_id":"555","# : ""
        return dispatch("MESSAGE_CREATE", """
            {"type":\(type),"content":"",\(webhookField)"member":{"roles":[\(roleList)]},"id":"\(id)","channel_id":"\(channel)",\
            "author":{"id":"\(author)","username":"u","bot":\(bot)},"guild_id":"\(guild)",\
            "referenced_message":{"id":"1","type":0,"author":{"id":"999","bot":true}}}
            """, guild: guild)
    }

    static func reaction(
        added: Bool, message: UInt64, giver: UInt64, author: UInt64, emoji: String = "👍", emojiID: UInt64? = nil, giverIsBot: Bool = false,
        burst: Bool = false
    ) -> ShardDispatch {
        let id = emojiID.map { #""\#($0)""# } ?? "null"
        let authorField = added ? #""message_author_id":"\#(author)","member":{"user":{"id":"\#(giver)","bot":\#(giverIsBot)}},"# : ""
        return dispatch(added ? "MESSAGE_REACTION_ADD" : "MESSAGE_REACTION_REMOVE", """
            {"user_id":"\(giver)","message_id":"\(message)",\(authorField)"emoji":{"name":"\(emoji)","id":\(id)},\
            "burst":\(burst),"type":\(burst ? 1 : 0),"channel_id":"700","guild_id":"\(guild)"}
            """)
    }
}
