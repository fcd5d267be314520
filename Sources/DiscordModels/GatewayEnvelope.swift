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
    /// For the events Kamii's hot path acts on, the fields it needs, read on the same pass (when
    /// `t` precedes `d`, as Discord sends it; otherwise nil and `d` must be read on its own).
    public var hotFields: HotFields?
    /// `t` as one of the events the hot path acts on; nil for every other event.
    public var hotEvent: HotEvent?

    public init(
        opcode: GatewayOpcode, sequence: Int?, eventName: String?, dataRange: Range<Int>?, dataGuildID: UInt64? = nil,
        dataID: UInt64? = nil, hotFields: HotFields? = nil, hotEvent: HotEvent? = nil
    ) {
        self.opcode = opcode
        self.sequence = sequence
        self.eventName = eventName
        self.dataRange = dataRange
        self.dataGuildID = dataGuildID
        self.dataID = dataID
        self.hotFields = hotFields
        self.hotEvent = hotEvent
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
        var hotEvent: HotEvent?
        var hotFields: HotFields?

        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "op" {
                opcode = try scanner.readInteger()
            } else if key == "s" {
                sequence = try scanner.readNull() ? nil : scanner.readInteger()
            } else if key == "t" {
                // A later `t` replaces an earlier one, as in any JSON parser; fields already read
                // from `d` were read for the earlier name, so they go (`d` is read again on its own),
                // and its `guild_id` and `id` are found as for any event (that read took only some).
                if hotFields != nil, let dataRange {
                    var data = JSONScanner(payload, at: dataRange.lowerBound)
                    (dataGuildID, dataID) = try Self.guildAndID(&data)
                }
                (eventName, hotEvent, hotFields) = (nil, nil, nil)
                guard try !scanner.readNull() else { return }
                // The hot events' names are matched on their bytes and given as constants: no
                // String built, no comparison of Strings, for most dispatches.
                let raw = try scanner.readRawString()
                if !raw.hasEscapes, let event = scanner.withBytes({ HotEvent(name: UnsafeRawBufferPointer(rebasing: $0[raw.range])) }) {
                    hotEvent = event
                    eventName = event.name
                } else {
                    let name = try scanner.withBytes { bytes in Result { () throws(JSONScanError) in try raw.decode(in: bytes) } }.get()
                    eventName = name
                    hotEvent = HotEvent(eventName: name)
                }
            } else if key == "d" {
                // A second `d` replaces the first, as in any JSON parser: nothing read from it stays.
                (hotFields, dataGuildID, dataID) = (nil, nil, nil)
                guard scanner.peekValueStart() == UInt8(ascii: "{") else {
                    dataRange = try scanner.skipValue()
                    return
                }
                let start = scanner.position
                if let event = hotEvent {
                    let before = scanner
                    hotFields = try HotFields.read(event, &scanner)
                    if let hotFields {
                        dataGuildID = hotFields.guildID
                        if case .message(let message) = hotFields { dataID = message.id }
                        dataRange = start..<scanner.position
                        return
                    }
                    // A hot event missing a field it must have: still say where it belongs.
                    scanner = before
                }
                (dataGuildID, dataID) = try Self.guildAndID(&scanner)
                dataRange = start..<scanner.position
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
        guard let opcode else { throw scanner.error("the payload has no \"op\"") }
        return GatewayEnvelope(
            opcode: GatewayOpcode(rawValue: opcode), sequence: sequence, eventName: eventName, dataRange: dataRange,
            dataGuildID: dataGuildID, dataID: dataID, hotFields: hotFields, hotEvent: hotEvent)
    }

    /// `guild_id` and `id` of the object at the scanner's position, as snowflake strings; the
    /// scanner ends past the object.
    @inline(__always)
    private static func guildAndID(_ scanner: inout JSONScanner) throws(JSONScanError) -> (UInt64?, UInt64?) {
        var found: (guild: UInt64?, id: UInt64?) = (nil, nil)
        try scanner.forEachMember { member, scanner throws(JSONScanError) in
            if member == "guild_id" {
                found.guild = try scanner.readSnowflake()
            } else if member == "id" {
                found.id = try scanner.readSnowflake()
            } else {
                try scanner.skipValue()
            }
        }
        return found
    }

    /// Reads the envelope of a payload held in an array.
    public static func peek(_ payload: [UInt8]) throws(JSONScanError) -> GatewayEnvelope {
        try payload.withUnsafeBytes { bytes in
            Result { () throws(JSONScanError) in try peek(bytes) }
        }.get()
    }
}
