/// The envelope of a gateway payload — `op`, `s`, `t` and where `d` lies — read in one pass
/// without decoding `d`.
///
/// This is the first look every payload gets: control opcodes are handled from it, and a dispatch
/// nobody wants is dropped without its data ever being parsed.
public struct GatewayEnvelope: Sendable, Equatable {
    public var opcode: GatewayOpcode
    /// `s`: the dispatch's sequence number; nil for other opcodes.
    public var sequence: Int?
    /// `t`: the dispatch's event name, such as `MESSAGE_CREATE`; nil for other opcodes.
    public var eventName: String?
    /// The bytes of the `d` value inside the payload; nil when `d` is absent.
    public var dataRange: Range<Int>?
    /// `d.guild_id` and `d.id` when `d` is an object that has them as snowflake strings: found on
    /// the same pass that finds where `d` ends, so routing a dispatch to its guild costs no second
    /// walk over the data.
    public var dataGuildID: UInt64?
    public var dataID: UInt64?

    public init(
        opcode: GatewayOpcode, sequence: Int?, eventName: String?, dataRange: Range<Int>?, dataGuildID: UInt64? = nil,
        dataID: UInt64? = nil
    ) {
        self.opcode = opcode
        self.sequence = sequence
        self.eventName = eventName
        self.dataRange = dataRange
        self.dataGuildID = dataGuildID
        self.dataID = dataID
    }

    /// Reads the envelope of one payload.
    /// - Throws: ``JSONScanError`` when the payload is not a JSON object with an integer `op`.
    public static func peek(_ payload: UnsafeRawBufferPointer) throws(JSONScanError) -> GatewayEnvelope {
        var scanner = JSONScanner(payload)
        var opcode: Int?
        var sequence: Int?
        var eventName: String?
        var dataRange: Range<Int>?
        var dataGuildID: UInt64?
        var dataID: UInt64?

        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "op" {
                opcode = try scanner.readInteger()
            } else if key == "s" {
                sequence = try scanner.readNull() ? nil : scanner.readInteger()
            } else if key == "t" {
                eventName = try scanner.readNull() ? nil : scanner.readString()
            } else if key == "d" {
                if scanner.peekValueStart() == UInt8(ascii: "{") {
                    let start = scanner.position
                    try scanner.forEachMember { member, scanner throws(JSONScanError) in
                        if member == "guild_id" {
                            dataGuildID = try scanner.readSnowflake()
                        } else if member == "id" {
                            dataID = try scanner.readSnowflake()
                        } else {
                            try scanner.skipValue()
                        }
                    }
                    dataRange = start..<scanner.position
                } else {
                    dataRange = try scanner.skipValue()
                }
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
        guard let opcode else { throw scanner.error("the payload has no \"op\"") }
        return GatewayEnvelope(
            opcode: GatewayOpcode(rawValue: opcode), sequence: sequence, eventName: eventName, dataRange: dataRange,
            dataGuildID: dataGuildID, dataID: dataID)
    }

    /// Reads the envelope of a payload held in an array.
    public static func peek(_ payload: [UInt8]) throws(JSONScanError) -> GatewayEnvelope {
        try payload.withUnsafeBytes { bytes in
            Result { () throws(JSONScanError) in try peek(bytes) }
        }.get()
    }
}
