public import DiscordModels

/// What one shard connects with.
public struct ShardConfiguration: Sendable {
    public var token: String
    public var intents: GatewayIntents
    public var shardID: Int
    public var shardCount: Int
    /// `wss://gateway.discord.gg` for Discord (from `/gateway/bot`), or any compatible endpoint.
    public var gatewayURL: String
    public var compression: GatewayCompression
    /// Members above which a guild is sent without its offline members (50…250).
    public var largeThreshold: Int
    /// The largest message accepted after reassembly (held within 1 byte … 4 GiB); READY of a big
    /// shard is several MiB.
    public var maxMessageBytes: Int
    /// ``maxMessageBytes`` held within its bounds, as the socket and the inflater take it.
    var messageLimit: Int { min(max(1, maxMessageBytes), InflaterLimits.largestPayloadBytes) }
    public var backoffBase: Double
    public var backoffCap: Double
    /// More identifies than this within its period stop the shard (``IdentifyCircuitBreaker``).
    public var identifyLimit: IdentifyCircuitBreaker.Limit
    /// How long connecting, the upgrade, and then Hello may each take before the connection is
    /// dropped and tried again.
    public var helloTimeout: Duration
    /// Save sessions only as far as the consumer says its work is durable (``ShardConnection/markDurable(session:sequence:)``):
    /// a process killed mid-way then resumes from the last durable dispatch, losing and repeating nothing.
    public var savesDurableSequence: Bool

    public init(
        token: String, intents: GatewayIntents, shardID: Int = 0, shardCount: Int = 1, gatewayURL: String,
        compression: GatewayCompression = .zstdStream, largeThreshold: Int = 250, maxMessageBytes: Int = 64 << 20,
        backoffBase: Double = 1, backoffCap: Double = 60, identifyLimit: IdentifyCircuitBreaker.Limit = .init(),
        helloTimeout: Duration = .seconds(10), savesDurableSequence: Bool = false
    ) {
        self.token = token
        self.intents = intents
        self.shardID = shardID
        self.shardCount = shardCount
        self.gatewayURL = gatewayURL
        self.compression = compression
        self.largeThreshold = largeThreshold
        self.maxMessageBytes = maxMessageBytes
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.identifyLimit = identifyLimit
        self.helloTimeout = helloTimeout
        self.savesDurableSequence = savesDurableSequence
    }

    /// The query a gateway URL gets: API version, encoding and transport compression.
    var query: String {
        compression == .none ? "/?v=10&encoding=json" : "/?v=10&encoding=json&compress=\(compression.rawValue)"
    }
}

/// Waits until a shard may identify: Discord allows one identify per bucket
/// (`shard_id % max_concurrency`) per 5 seconds, across every process of the bot.
public protocol IdentifyGate: Sendable {
    /// Returns when `shard` may identify, holding its bucket's slot; throws ``IdentifyRefused`` to
    /// refuse (the session budget is down to its reserve).
    func waitForTurn(shard: Int) async throws
    /// `shard`'s identify was just written: its bucket's window runs from now.
    func identifySent(shard: Int) async
    /// `shard` had its turn but did not identify (its connection ended first, or it was told to
    /// reconnect): what the turn cost, such as a session start, can be given back.
    func identifyNotSent(shard: Int) async
}

extension IdentifyGate {
    public func identifySent(shard: Int) async {}
    public func identifyNotSent(shard: Int) async {}
}

/// A gate's refusal: why, and when asking again makes sense.
public struct IdentifyRefused: Error, Sendable, CustomStringConvertible {
    public let reason: String
    public let retryAfter: Duration?

    public init(reason: String, retryAfter: Duration?) {
        self.reason = reason
        self.retryAfter = retryAfter
    }

    public var description: String { reason }
}

/// No coordination: for a single shard, or tests.
public struct UnlimitedIdentifyGate: IdentifyGate {
    public init() {}
    public func waitForTurn(shard: Int) async throws {}
}

/// One dispatch as it leaves the shard: its name, `s`, the guild it concerns (found by scanning,
/// not decoding) and the payload's bytes, with where `d` lies in them.
public struct ShardDispatch: Sendable {
    public let name: String
    public let sequence: Int?
    public let guildID: GuildID?
    public let payload: [UInt8]
    public let dataRange: Range<Int>
    /// What the hot path reads from this event, found on the envelope's pass (offsets into `payload`).
    public let hotFields: HotFields?
    /// The event as one the hot path acts on (nil for the others), so nobody compares names again.
    public let hotEvent: HotEvent?
    /// Which of the shard's sessions it belongs to (counts READYs), so a consumer's "durable up to
    /// `s`" can never be applied to another session.
    public internal(set) var session = 0
    /// The Discord session it came in (``SessionTag``; 0 when unknown): unlike ``session``, the
    /// same in a later process that resumes the session.
    public var sessionTag: UInt64 = 0
    /// Whether it came while the shard resumed a session an earlier process saved, before that
    /// resume's RESUMED: such a dispatch may have been applied already by that process (its changes
    /// flushed, its position not yet saved), which only Redis can tell.
    public var mayBeApplied = false

    /// A dispatch built by hand; whether it is a hot event is read from `name`.
    public init(name: String, sequence: Int?, guildID: GuildID?, payload: [UInt8], dataRange: Range<Int>, hotFields: HotFields? = nil) {
        self.name = name
        self.sequence = sequence
        self.guildID = guildID
        self.payload = payload
        self.dataRange = dataRange
        self.hotFields = hotFields
        hotEvent = HotEvent(eventName: name)
    }

    /// The dispatch a shard passes on for a payload and its envelope: the payload's bytes copied
    /// once (the inflater's buffer is reused by the next message). Nil when it is not a dispatch.
    /// The envelope's pass already told which hot event it is: the name is not compared again.
    public init?(envelope: GatewayEnvelope, payload: UnsafeRawBufferPointer) {
        var storage: [UInt8] = []
        self.init(envelope: envelope, payload: payload, reusing: &storage)
    }

    /// Like ``init(envelope:payload:)``, copying the payload into `storage` — the previous
    /// dispatch's bytes. Once every copy of that dispatch is gone (its consumer returned and kept
    /// nothing), its buffer is reused: no allocation per dispatch. A consumer that keeps a dispatch
    /// keeps its bytes intact (the array is copied on write).
    public init?(envelope: GatewayEnvelope, payload: UnsafeRawBufferPointer, reusing storage: inout [UInt8]) {
        guard envelope.opcode == .dispatch, let name = envelope.eventName, let dataRange = envelope.dataRange else { return nil }
        self.name = name
        sequence = envelope.sequence
        guildID = GatewayPayloads.guildID(of: envelope, event: name)
        // A big payload (READY, a large GUILD_CREATE) is not kept around for the small ones after it.
        if storage.capacity > 1 << 20 && payload.count < storage.capacity / 4 {
            storage = []
        } else {
            storage.removeAll(keepingCapacity: true)
        }
        storage.append(contentsOf: payload)
        self.payload = storage
        self.dataRange = dataRange
        hotFields = envelope.hotFields
        hotEvent = envelope.hotEvent
    }

    /// A dispatch made from a whole payload (`{"op":0,"t":…,"d":…}`); nil when it is not a dispatch.
    public init?(payload: [UInt8]) {
        guard let envelope = try? GatewayEnvelope.peek(payload) else { return nil }
        guard envelope.opcode == .dispatch, let name = envelope.eventName, let dataRange = envelope.dataRange else { return nil }
        self.name = name
        sequence = envelope.sequence
        guildID = GatewayPayloads.guildID(of: envelope, event: name)
        self.payload = payload
        self.dataRange = dataRange
        hotFields = envelope.hotFields
        hotEvent = envelope.hotEvent
    }
}
