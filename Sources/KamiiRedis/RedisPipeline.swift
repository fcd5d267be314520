public import NIOCore

/// Commands encoded as RESP into one buffer, sent with one write and answered in order. A command
/// is an array of bulk strings; encoding writes straight into the buffer, so building a pipeline of
/// thousands of commands allocates only as the buffer grows. Each part (a command's header, an
/// argument with its length) is written with one capacity check and plain stores: a flush writes
/// tens of thousands of small arguments, and ByteBuffer's checks per write were most of their cost.
public struct RedisPipeline: Sendable {
    public private(set) var buffer: ByteBuffer
    public private(set) var count = 0
    /// Arguments the command begun last still expects: a count off by one would shift every later
    /// reply on the connection onto the wrong command, so it is checked, not trusted.
    private var argumentsLeft = 0

    /// Whether every command begun has all its arguments (what ``RedisClient/execute(_:)`` sends).
    public var isComplete: Bool { argumentsLeft == 0 }

    /// Which argument of the command begun last comes next (0: its name), while the command's name
    /// (and a CLIENT command's subcommand) is still to be checked; -1 once checked.
    private var argumentToCheck = -1
    /// Whether the connection's own set-up (``appendConnectionSetup(_:)``) is being written.
    private var writingConnectionSetup = false

    /// Commands that do not answer exactly once, or change the connection in a way a reconnect
    /// would silently undo (the next commands would go to database 0, as another user, unwatched):
    /// a pipeline pairs one reply with each command, and a connection is replaced whenever it
    /// fails, so they are refused — whether appended whole or argument by argument. The
    /// configuration's database and credentials are the connection's set-up.
    static let unpaired: [StaticString] = [
        "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "MONITOR", "HELLO", "RESET", "QUIT", "SELECT", "AUTH", "WATCH",
    ]
    /// CLIENT subcommands refused for the same reasons.
    static let unpairedClientSubcommands: [StaticString] = ["REPLY", "SETNAME", "SETINFO", "TRACKING", "NO-EVICT", "NO-TOUCH"]
    /// The names a command's first argument is compared with: those refused, and CLIENT (whose
    /// subcommand is checked next).
    private static let checkedNames: [StaticString] = unpaired + ["CLIENT"]

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

    /// Appends the connection's set-up (AUTH, SELECT), which ``append(_:)`` refuses: the client
    /// sends it on every connection it makes.
    mutating func appendConnectionSetup(_ arguments: [String]) {
        writingConnectionSetup = true
        defer { writingConnectionSetup = false }
        append(arguments)
    }

    /// Starts a command of `arguments` parts; follow with exactly that many `appendArgument` calls.
    public mutating func beginCommand(arguments: Int) {
        precondition(arguments > 0, "a Redis command has a name")
        precondition(argumentsLeft == 0, "the command begun before still expects \(argumentsLeft) argument(s)")
        argumentsLeft = arguments
        argumentToCheck = 0
        Self.withDecimal(magnitude: UInt64(arguments), negative: false) { digits in
            write(capacity: digits.count + 3) { writer in
                writer.byte(UInt8(ascii: "*"))
                writer.bytes(digits)
                writer.crlf()
            }
        }
        count += 1
    }

    public mutating func appendArgument(_ text: String) {
        var text = text
        text.withUTF8 { appendArgument(bytes: UnsafeRawBufferPointer($0)) }
    }

    public mutating func appendArgument(_ value: Int) {
        // Numbers as text without an intermediate String.
        Self.withDecimal(magnitude: UInt64(value.magnitude), negative: value < 0) { appendArgument(bytes: $0) }
    }

    /// An unsigned number (a snowflake) as text, every bit of it.
    public mutating func appendArgument(_ value: UInt64) {
        Self.withDecimal(magnitude: value, negative: false) { appendArgument(bytes: $0) }
    }

    /// Appends one argument written in parts: `head`, `separator`, `value` in decimal, `tail` — a key
    /// such as `kamii:{123}:members` — without building it as a String first (an allocation or two
    /// per key, thousands of keys per flush).
    public mutating func appendArgument(_ head: String, _ separator: StaticString, _ value: UInt64, _ tail: StaticString) {
        var head = head
        head.withUTF8 { head in
            Self.withDecimal(magnitude: value, negative: false) { digits in
                let separator = UnsafeRawBufferPointer(start: separator.utf8Start, count: separator.utf8CodeUnitCount)
                let tail = UnsafeRawBufferPointer(start: tail.utf8Start, count: tail.utf8CodeUnitCount)
                appendArgument(length: head.count + separator.count + digits.count + tail.count) { writer in
                    writer.bytes(UnsafeRawBufferPointer(head))
                    writer.bytes(separator)
                    writer.bytes(digits)
                    writer.bytes(tail)
                }
            }
        }
    }

    public mutating func appendArgument(bytes: some Collection<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { appendArgument(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { appendArgument(bytes: Array(bytes)) }
    }

    private mutating func appendArgument(bytes: UnsafeRawBufferPointer) {
        appendArgument(length: bytes.count) { $0.bytes(bytes) }
    }

    /// One bulk string of `length` bytes, which `body` writes between its header and its CRLF.
    private mutating func appendArgument(length: Int, _ body: (inout RawWriter) -> Void) {
        precondition(argumentsLeft > 0, "an argument beyond the count its command began with")
        argumentsLeft -= 1
        Self.withDecimal(magnitude: UInt64(length), negative: false) { lengthDigits in
            write(capacity: lengthDigits.count + length + 5) { writer in
                writer.byte(UInt8(ascii: "$"))
                writer.bytes(lengthDigits)
                writer.crlf()
                body(&writer)
                writer.crlf()
            }
        }
        if argumentToCheck >= 0 { checkPairing(length: length) }
    }

    /// Refuses (a programming error) a command ``unpaired`` names, or a CLIENT command's
    /// subcommand ``unpairedClientSubcommands`` names, reading the argument back from the buffer
    /// without a copy: the only check per argument on the hot path is whether one is due.
    private mutating func checkPairing(length: Int) {
        let start = buffer.writerIndex - buffer.readerIndex - 2 - length
        if argumentToCheck == 0 {
            argumentToCheck = -1
            guard let name = Self.written(at: start, length: length, in: buffer, among: Self.checkedNames) else { return }
            let isClient = name.description == "CLIENT"
            precondition(isClient || writingConnectionSetup, "\(name) does not answer once per command, or a reconnect would undo it")
            if isClient { argumentToCheck = 1 }
        } else {
            let refused = Self.written(at: start, length: length, in: buffer, among: Self.unpairedClientSubcommands)
            precondition(refused == nil, "CLIENT \(refused ?? "") does not answer once per command, or a reconnect would undo it")
            argumentToCheck = -1
        }
    }

    /// The word of `words` (upper case) that the `length` bytes at `start` of `buffer`'s readable
    /// bytes spell in any case, if one does.
    private static func written(at start: Int, length: Int, in buffer: ByteBuffer, among words: [StaticString]) -> StaticString? {
        buffer.withUnsafeReadableBytes { bytes in
            words.first { word in
                word.utf8CodeUnitCount == length && (0..<length).allSatisfy { index in
                    let byte = bytes[start + index]
                    let upper = byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte - 32 : byte
                    return upper == word.utf8Start[index]
                }
            }
        }
    }

    /// Writes at most `capacity` bytes at the buffer's end with one capacity check.
    private mutating func write(capacity: Int, _ body: (inout RawWriter) -> Void) {
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { space in
            var writer = RawWriter(base: space.baseAddress!)
            body(&writer)
            return writer.offset
        }
    }

    /// Stores into space already reserved.
    private struct RawWriter {
        let base: UnsafeMutableRawPointer
        var offset = 0

        mutating func byte(_ value: UInt8) {
            base.storeBytes(of: value, toByteOffset: offset, as: UInt8.self)
            offset += 1
        }

        mutating func bytes(_ source: UnsafeRawBufferPointer) {
            guard let address = source.baseAddress, !source.isEmpty else { return }
            (base + offset).copyMemory(from: address, byteCount: source.count)
            offset += source.count
        }

        mutating func crlf() {
            byte(UInt8(ascii: "\r"))
            byte(UInt8(ascii: "\n"))
        }
    }

    /// Appends `value` in decimal to `bytes`: for an argument assembled from many numbers, without a
    /// String per number.
    public static func appendDecimal(_ value: UInt64, to bytes: inout [UInt8]) {
        withDecimal(magnitude: value, negative: false) { bytes.append(contentsOf: $0) }
    }

    /// Calls `body` with a number's decimal digits, kept on the stack.
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
