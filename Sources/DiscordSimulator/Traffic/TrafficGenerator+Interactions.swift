import DiscordModels

/// INTERACTION_CREATE: members using the bot's slash commands and clicking its buttons, with the
/// permissions their roles give them.
extension TrafficGenerator {
    /// The slash commands the traffic uses, as a bot like Kamii registers them.
    static let commandNames = ["rank", "leaderboard", "warn"]

    /// A member uses a command or clicks a button; nil when the pick turned up nobody who may (or
    /// not in the channel picked), or the guild has no channel left.
    mutating func interactionCreate(in guildIndex: Int, into json: inout JSONBytes) -> GeneratedEvent? {
        let guild = world.guilds[guildIndex]
        guard let picked = pickActingMember(of: guildIndex), let channel = pickChannel(inGuildAt: guildIndex) else { return nil }
        let user = picked.user
        messageCounter += 1
        let id = Snowflake<MessageTag>(unixMilliseconds: clock, worker: 8 | (idSource >> 5), process: idSource & 0x1F, increment: messageCounter)
        let token = "aW50ZXJhY3Rpb246" + random.hex(64)
        // Permissions in the channel, overwrites applied, as Discord sends them.
        let permissions = self.permissions(of: picked, in: channel, guildAt: guildIndex)
        let appPermissions = botPermissions(in: channel, guildAt: guildIndex)
        let isButton = random.chance(30)
        // A button on a message they can see; a command where they may use commands.
        guard permissions.isSuperset(of: isButton ? [.viewChannel] : [.viewChannel, .useApplicationCommands]) else { return nil }
        json.raw(#"{"version":1,"type":"#)
        json.int(isButton ? 3 : 2)
        json.raw(#","token":""#)
        json.raw(token)
        json.raw(#"","member":"#)
        member(picked, in: guildIndex, withUser: true, permissions: permissions, into: &json)
        json.raw(#","locale":"en-US","id":"#)
        json.id(id)
        json.raw(#","guild_locale":"en-US","guild_id":"#)
        json.id(guild.id)
        json.raw(#","guild":{"locale":"en-US","id":"#)
        json.id(guild.id)
        json.raw(#","features":[]},"entitlements":[],"entitlement_sku_ids":[],"data":"#)
        if isButton {
            json.raw(#"{"custom_id":"kamii:leaderboard:page:"#)
            json.int(random.inRange(2...9))
            json.raw(#"","component_type":2}"#)
        } else {
            let command = random.below(Self.commandNames.count)
            json.raw(#"{"type":1,"options":"#)
            if Self.commandNames[command] == "warn" {
                let target = pickMember(of: guildIndex).user
                json.raw(#"[{"value":"#)
                json.id(self.user(at: target).id)
                json.raw(#","type":6,"name":"user"},{"value":"spam","type":3,"name":"reason"}]"#)
            } else {
                json.raw("[]")
            }
            json.raw(#","name":""#)
            json.raw(Self.commandNames[command])
            json.raw(#"","id":""#)
            json.int(applicationID &+ UInt64(command) &+ 1)
            json.raw(#""}"#)
        }
        json.raw(#","context":0,"channel_id":"#)
        json.id(channel)
        json.raw(#","channel":{"type":0,"id":"#)
        json.id(channel)
        json.raw(#","guild_id":"#)
        json.id(guild.id)
        json.raw(#"},"authorizing_integration_owners":{"0":"#)
        json.id(guild.id)
        json.raw(#"},"application_id":""#)
        json.int(applicationID)
        json.raw(#"","app_permissions":""#)
        json.int(appPermissions.rawValue)
        json.raw(#"","attachment_size_limit":10485760"#)
        // The message a button sits on: a command's response sent just before.
        let componentMessage = isButton ? id.rawValue - 4_194_304 : nil
        if let componentMessage {
            json.raw(#","message":{"type":20,"id":""#)
            json.int(componentMessage)
            json.raw("\"")
            json.raw(#","channel_id":"#)
            json.id(channel)
            json.raw(#","author":{"id":"#)
            json.id(botUserID)
            json.raw(#","username":"Kamii","discriminator":"0","avatar":null,"bot":true},"content":"","embeds":[],"components":[],"flags":0}"#)
        }
        json.raw("}")
        return GeneratedEvent(
            name: "INTERACTION_CREATE", data: json.bytes, guild: guild.id,
            fact: .interaction(
                id: id.rawValue, token: token, guild: guild.id, channel: channel, user: self.user(at: user).id, componentMessage: componentMessage))
    }
}
