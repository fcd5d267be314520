/// One member's live stats in one guild, as Redis keeps them: a field of the guild's members hash
/// (`<prefix>:{g}:members`, the field is the user ID), its value 43 bytes — `xp`, `level`, `msgs`,
/// `xp_msgs`, `last_xp`, `karma`, `trust`, `avatar`, `joined`, `pending`, `verified` packed as
/// Lua's `struct` library reads them (``luaFormat``), -1 for what is not known yet (`last_xp`
/// before a first XP, `trust` before a member event or a checkpoint, the last four before a
/// member event).
///
/// One packed field per member rather than a hash per member: the flush script then reads and
/// writes all of a guild's members in one HMGET and one HSET, which measured half the Redis CPU of
/// two hash commands per member. Binary rather than the text earlier versions wrote (still read):
/// unpacking and packing 11 numbers with `struct` costs the script ≈ 0.5 µs against ≈ 3 µs for
/// matching, converting and joining text — most of what a member cost it.
public struct MemberRecord: Sendable, Equatable {
    public var xp = 0
    public var level = 0
    public var messages = 0
    /// Messages that earned XP.
    public var xpMessages = 0
    /// When the member last earned XP (the message's time, Unix ms).
    public var lastXPAt: UInt64?
    public var karma = 0
    public var trust: Int?
    public var hasAvatar: Bool?
    /// Unix ms; 0 when the member event did not say.
    public var joinedAt: UInt64?
    public var isPending: Bool?
    public var isVerified: Bool?

    public init(
        xp: Int = 0, level: Int = 0, messages: Int = 0, xpMessages: Int = 0, lastXPAt: UInt64? = nil, karma: Int = 0, trust: Int? = nil,
        hasAvatar: Bool? = nil, joinedAt: UInt64? = nil, isPending: Bool? = nil, isVerified: Bool? = nil
    ) {
        self.xp = xp
        self.level = level
        self.messages = messages
        self.xpMessages = xpMessages
        self.lastXPAt = lastXPAt
        self.karma = karma
        self.trust = trust
        self.hasAvatar = hasAvatar
        self.joinedAt = joinedAt
        self.isPending = isPending
        self.isVerified = isVerified
    }

    /// The stored form's size: a version byte (1), then little-endian `xp` (double), `level`
    /// (Int16), `msgs`, `xp_msgs` (Int32), `last_xp` (double, -1 unknown), `karma` (Int32),
    /// `trust`, `avatar` (Int8, -1 unknown), `joined` (double, -1 unknown), `pending`, `verified`
    /// (Int8, -1 unknown) — Lua's `struct` format ``luaFormat``.
    static let storedSize = 43
    static let luaFormat = "<Bdhi4i4di4bbdbb"

    /// Reads a stored value: the binary form, or the text form earlier versions wrote
    /// (`xp:level:msgs:xp_msgs:last_xp:karma:trust:avatar:joined:pending:verified`, empty places
    /// unknown). Nil when it is neither.
    public init?(stored bytes: some Collection<UInt8>) {
        let bytes = Array(bytes)
        if bytes.count == Self.storedSize, bytes[0] == 1 {
            var reader = LittleEndianReader(bytes: bytes, offset: 1)
            let xp = reader.double(), level = Int(reader.integer(Int16.self)), messages = Int(reader.integer(Int32.self))
            let xpMessages = Int(reader.integer(Int32.self)), last = reader.double(), karma = Int(reader.integer(Int32.self))
            let trust = Int(reader.integer(Int8.self)), avatar = reader.integer(Int8.self), joined = reader.double()
            let pending = reader.integer(Int8.self), verified = reader.integer(Int8.self)
            func time(_ value: Double) -> UInt64? { value >= 0 && value < 9.0e15 ? UInt64(value) : nil }
            func flag(_ value: Int8) -> Bool? { value < 0 ? nil : value != 0 }
            guard xp.isFinite, abs(xp) < 9.0e15 else { return nil }
            self.init(
                xp: Int(xp), level: level, messages: messages, xpMessages: xpMessages, lastXPAt: time(last), karma: karma,
                trust: trust < 0 ? nil : trust, hasAvatar: flag(avatar), joinedAt: time(joined), isPending: flag(pending),
                isVerified: flag(verified))
            return
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { return nil }
        self.init(text: text)
    }

    private init?(text: String) {
        let places = text.split(separator: ":", omittingEmptySubsequences: false)
        guard places.count == 11 else { return nil }
        func number(_ index: Int) -> Int?? {
            let place = places[index]
            if place.isEmpty { return .some(nil) }
            guard let value = Int(place) else { return nil }
            return .some(value)
        }
        guard let xp = number(0), let level = number(1), let messages = number(2), let xpMessages = number(3), let last = number(4),
              let karma = number(5), let trust = number(6), let avatar = number(7), let joined = number(8), let pending = number(9),
              let verified = number(10)
        else { return nil }
        self.init(
            xp: xp ?? 0, level: level ?? 0, messages: messages ?? 0, xpMessages: xpMessages ?? 0, lastXPAt: last.map { UInt64(max(0, $0)) },
            karma: karma ?? 0, trust: trust, hasAvatar: avatar.map { $0 != 0 }, joinedAt: joined.map { UInt64(max(0, $0)) },
            isPending: pending.map { $0 != 0 }, isVerified: verified.map { $0 != 0 })
    }

    /// The stored value (the binary form; counts beyond Int32 and levels beyond Int16 are clamped).
    public var stored: [UInt8] {
        var writer = LittleEndianWriter(capacity: Self.storedSize)
        writer.append(UInt8(1))
        writer.append(Double(xp))
        writer.append(Int16(clamping: level))
        writer.append(Int32(clamping: messages))
        writer.append(Int32(clamping: xpMessages))
        writer.append(lastXPAt.map { Double($0) } ?? -1)
        writer.append(Int32(clamping: karma))
        writer.append(Int8(clamping: trust ?? -1))
        func flag(_ value: Bool?) -> Int8 { value.map { $0 ? 1 : 0 } ?? -1 }
        writer.append(flag(hasAvatar))
        writer.append(joinedAt.map { Double($0) } ?? -1)
        writer.append(flag(isPending))
        writer.append(flag(isVerified))
        return writer.bytes
    }

    /// The Lua pattern that reads the text form earlier versions stored into its eleven places.
    /// Every place may be signed (karma is; a hand-edited or hydrated value might be).
    static let luaPattern = "^(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*):(%-?%d*)$"
}

/// Reads little-endian numbers from bytes the caller has checked are long enough.
struct LittleEndianReader {
    let bytes: [UInt8]
    var offset: Int

    mutating func integer<T: FixedWidthInteger>(_: T.Type) -> T {
        var value = T.zero
        for index in 0..<MemoryLayout<T>.size { value |= T(truncatingIfNeeded: bytes[offset + index]) << (8 * index) }
        offset += MemoryLayout<T>.size
        return value
    }

    mutating func double() -> Double { Double(bitPattern: integer(UInt64.self)) }
}

/// Writes little-endian numbers, as Lua's `struct` reads them with `<`.
struct LittleEndianWriter {
    private(set) var bytes: [UInt8]

    init(capacity: Int) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Double) { append(value.bitPattern) }

    /// Empties the bytes, keeping their storage.
    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }
}
