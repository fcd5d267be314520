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

    public init(opcode: GatewayOpcode, sequence: Int?, eventName: String?, dataRange: Range<Int>?) {
        self.opcode = opcode
        self.sequence = sequence
        self.eventName = eventName
        self.dataRange = dataRange
    }

    /// Reads the envelope of one payload.
    /// - Throws: ``JSONScanError`` when the payload is not a JSON object with an integer `op`.
    public static func peek(_ payload: UnsafeRawBufferPointer) throws(JSONScanError) -> GatewayEnvelope {
        var scanner = JSONScanner(payload)
        var opcode: Int?
        var sequence: Int?
        var eventName: String?
        var dataRange: Range<Int>?

        try scanner.forEachMember { key, scanner throws(JSONScanError) in
            if key == "op" {
                opcode = try scanner.readInteger()
            } else if key == "s" {
                sequence = try scanner.readNull() ? nil : scanner.readInteger()
            } else if key == "t" {
                eventName = try scanner.readNull() ? nil : scanner.readString()
            } else if key == "d" {
                dataRange = try scanner.skipValue()
            } else {
                try scanner.skipValue()
            }
        }
        try scanner.expectEnd()
        guard let opcode else { throw scanner.error("the payload has no \"op\"") }
        return GatewayEnvelope(
            opcode: GatewayOpcode(rawValue: opcode), sequence: sequence, eventName: eventName, dataRange: dataRange)
    }

    /// Reads the envelope of a payload held in an array.
    public static func peek(_ payload: [UInt8]) throws(JSONScanError) -> GatewayEnvelope {
        try payload.withUnsafeBytes { bytes in
            Result { () throws(JSONScanError) in try peek(bytes) }
        }.get()
    }
}
