import DiscordModels

/// What the shard reads from the few payloads it handles itself — found by scanning, not decoding.
enum GatewayPayloads {
    /// Hello's `heartbeat_interval`, in milliseconds.
    static func heartbeatInterval(in data: UnsafeRawBufferPointer) throws(JSONScanError) -> Int? {
        var scanner = JSONScanner(data)
        var interval: Int?
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "heartbeat_interval" { interval = try scanner.readInteger() } else { try scanner.skipValue() }
        }
        return interval
    }

    /// READY's `session_id` and `resume_gateway_url`.
    static func session(in data: UnsafeRawBufferPointer) throws(JSONScanError) -> (id: String?, resumeURL: String?) {
        var scanner = JSONScanner(data)
        var id: String?
        var url: String?
        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "session_id" {
                id = try scanner.readString()
            } else if key == "resume_gateway_url" {
                url = try scanner.readString()
            } else {
                try scanner.skipValue()
            }
        }
        return (id, url)
    }

    /// The guild a dispatch concerns: its top-level `guild_id`, or for GUILD_CREATE, GUILD_UPDATE
    /// and GUILD_DELETE (whose `d` is the guild) its `id` — both read by the envelope's one pass.
    static func guildID(of envelope: GatewayEnvelope, event: String) -> GuildID? {
        // The hot events carry `guild_id`: their names are not compared again.
        if envelope.hotEvent != nil { return envelope.dataGuildID.map(GuildID.init) }
        let isGuildObject = event == "GUILD_CREATE" || event == "GUILD_UPDATE" || event == "GUILD_DELETE"
        return (isGuildObject ? envelope.dataID : envelope.dataGuildID).map(GuildID.init)
    }

    /// Op 9's `d`: whether the session may be resumed.
    static func isResumable(_ data: UnsafeRawBufferPointer) -> Bool {
        data.first { $0 != UInt8(ascii: " ") } == UInt8(ascii: "t")
    }
}
