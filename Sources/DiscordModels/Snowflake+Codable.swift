/// Snowflakes travel as decimal strings in JSON, as Discord sends them; numbers are accepted too.
extension Snowflake: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard let value = UInt64(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not a snowflake")
            }
            self.init(value)
        } else {
            self.init(try container.decode(UInt64.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

extension Snowflake {
    /// Whether the ID can be a real Discord ID: non-zero and within the signed 64-bit range
    /// that SQL BIGINT columns hold.
    public var isValid: Bool { rawValue != 0 && rawValue <= UInt64(Int64.max) }
}
