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
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for Int.min's 20
        withUnsafeMutableBytes(of: &digits) { bytes in
            let length = decimal(value, into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<20]))
            body(UnsafeRawBufferPointer(rebasing: bytes[(20 - length)..<20]))
        }
    }

    /// Writes `value` in decimal right-aligned into the 20 bytes; returns how many it used.
    private static func decimal(_ value: Int, into bytes: UnsafeMutableRawBufferPointer) -> Int {
        var magnitude = value.magnitude
        var index = 20
        repeat {
            index -= 1
            bytes[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
            magnitude /= 10
        } while magnitude > 0
        if value < 0 {
            index -= 1
            bytes[index] = UInt8(ascii: "-")
        }
        return 20 - index
    }
}
