public import NIOCore

/// Commands encoded as RESP into one buffer, sent with one write and answered in order. A command
/// is an array of bulk strings; encoding writes straight into the buffer, so building a pipeline of
/// thousands of commands allocates only as the buffer grows.
public struct RedisPipeline: Sendable {
    public private(set) var buffer: ByteBuffer
    public private(set) var count = 0

    public init(capacity: Int = 256) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    /// Appends one command: its name and arguments, each a bulk string.
    public mutating func append(_ arguments: String...) {
        append(arguments)
    }

    public mutating func append(_ arguments: [String]) {
        beginCommand(arguments: arguments.count)
        for argument in arguments { appendArgument(argument) }
    }

    /// Starts a command of `arguments` parts; follow with exactly that many `appendArgument` calls.
    public mutating func beginCommand(arguments: Int) {
        precondition(arguments > 0, "a Redis command has a name")
        buffer.writeInteger(UInt8(ascii: "*"))
        writeDecimal(arguments)
        count += 1
    }

    public mutating func appendArgument(_ text: String) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(text.utf8.count)
        buffer.writeString(text)
        buffer.writeStaticString("\r\n")
    }

    public mutating func appendArgument(_ value: Int) {
        // Numbers as text without an intermediate String.
        Self.withDecimal(value) { digits in
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(digits.count)
            buffer.writeBytes(digits)
            buffer.writeStaticString("\r\n")
        }
    }

    /// An unsigned number (a snowflake) as text, every bit of it.
    public mutating func appendArgument(_ value: UInt64) {
        Self.withDecimal(magnitude: value, negative: false) { digits in
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(digits.count)
            buffer.writeBytes(digits)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Appends one argument written in parts: `head`, `separator`, `value` in decimal, `tail` — a key
    /// such as `kamii:{123}:members` — without building it as a String first (an allocation or two
    /// per key, thousands of keys per flush).
    public mutating func appendArgument(_ head: String, _ separator: StaticString, _ value: UInt64, _ tail: StaticString) {
        Self.withDecimal(magnitude: value, negative: false) { digits in
            buffer.writeInteger(UInt8(ascii: "$"))
            writeDecimal(head.utf8.count + separator.utf8CodeUnitCount + digits.count + tail.utf8CodeUnitCount)
            buffer.writeString(head)
            buffer.writeStaticString(separator)
            buffer.writeBytes(digits)
            buffer.writeStaticString(tail)
            buffer.writeStaticString("\r\n")
        }
    }

    public mutating func appendArgument(bytes: some Collection<UInt8>) {
        buffer.writeInteger(UInt8(ascii: "$"))
        writeDecimal(bytes.count)
        buffer.writeBytes(bytes)
        buffer.writeStaticString("\r\n")
    }

    private mutating func writeDecimal(_ value: Int) {
        Self.withDecimal(value) { digits in
            buffer.writeBytes(digits)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Calls `body` with `value`'s decimal digits, kept on the stack.
    private static func withDecimal(_ value: Int, _ body: (UnsafeRawBufferPointer) -> Void) {
        withDecimal(magnitude: UInt64(value.magnitude), negative: value < 0, body)
    }

    private static func withDecimal(magnitude: UInt64, negative: Bool, _ body: (UnsafeRawBufferPointer) -> Void) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for a sign and UInt64.max's 20 digits
        withUnsafeMutableBytes(of: &digits) { bytes in
            let length = decimal(magnitude, negative: negative, into: bytes)
            body(UnsafeRawBufferPointer(rebasing: bytes[(24 - length)..<24]))
        }
    }

    /// Writes a number in decimal right-aligned into the 24 bytes; returns how many it used.
    private static func decimal(_ magnitude: UInt64, negative: Bool, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = magnitude
        var index = 24
        repeat {
            index -= 1
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if negative {
            index -= 1
            bytes[index] = UInt8(ascii: "-")
        }
        return 24 - index
    }
}
