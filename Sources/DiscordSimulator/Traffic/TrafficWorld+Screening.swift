import DiscordModels

/// Membership Screening: in a guild that has it, whoever joins is `pending` and may not post, react
/// or use commands until they pass it (GUILD_MEMBER_UPDATE with `pending: false`). Which guilds have
/// it is fixed by their IDs, so the gateway, REST and a test's expectations agree.
extension TrafficWorld {
    /// Whether `guild` screens new members (Discord's `MEMBER_VERIFICATION_GATE_ENABLED`, an option
    /// of `COMMUNITY` guilds): one guild in four. The world's own members passed long ago.
    public func screensNewMembers(_ guild: Guild) -> Bool {
        var z = guild.id.rawValue &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return (z ^ (z >> 31)) % 4 == 1
    }

    /// The guild's `features` as a JSON array: a screening guild is a community guild.
    func featuresJSON(of guild: Guild) -> String {
        screensNewMembers(guild) ? #"["COMMUNITY","MEMBER_VERIFICATION_GATE_ENABLED"]"# : "[]"
    }
}
