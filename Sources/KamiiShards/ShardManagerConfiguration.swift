public import DiscordGateway
public import DiscordModels
import Foundation

/// How a process runs its part of a bot's shards.
public struct ShardManagerConfiguration: Sendable {
    public var token: String
    public var intents: GatewayIntents
    /// The gateway to connect to; nil takes the one `GET /gateway/bot` names.
    public var gatewayURL: String?
    public var compression: GatewayCompression
    public var count: ShardPlan.Count
    public var selection: ShardPlan.Selection
    public var largeThreshold: Int
    /// Discord's identify window per bucket (5 s); shorter only against a simulator told the same.
    public var identifyWindow: Duration
    /// Session starts kept in reserve: below this many left, shards do not identify.
    public var sessionReserve: Int
    /// How often each shard's session is saved for a restarted process to resume.
    public var sessionSaveInterval: Duration
    /// How long a saved session is worth resuming.
    public var sessionFreshness: Duration
    public var identifyLimit: IdentifyCircuitBreaker.Limit
    public var backoffBase: Double
    public var backoffCap: Double
    /// Separates bots sharing one Redis; nil derives it from the token's bot ID.
    public var namespace: String?
    /// How long a shard's lease (with Redis: which process runs it) outlives its holder's last
    /// renewal: how long the shards of a process that crashed on another machine wait before
    /// another process may run them. Well below ``sessionFreshness``, so they still resume.
    public var leaseLifetime: Duration = .seconds(30)
    /// How often a shard waiting for its lease (held by another process) asks for it.
    public var leaseRetryInterval: Duration = .seconds(1)
    /// Sessions are saved only as far as ``ShardManager/markDurable(_:)`` says the consumer's work
    /// is durable (the hot path: flushed to Redis).
    public var savesDurableSequence = false

    public init(
        token: String, intents: GatewayIntents, gatewayURL: String? = nil, compression: GatewayCompression = .zstdStream,
        count: ShardPlan.Count = .automatic, selection: ShardPlan.Selection = .all, largeThreshold: Int = 250,
        identifyWindow: Duration = .seconds(5), sessionReserve: Int = 10, sessionSaveInterval: Duration = .seconds(5),
        sessionFreshness: Duration = .seconds(90), identifyLimit: IdentifyCircuitBreaker.Limit = .init(),
        backoffBase: Double = 1, backoffCap: Double = 60, namespace: String? = nil
    ) {
        self.token = token
        self.intents = intents
        self.gatewayURL = gatewayURL
        self.compression = compression
        self.count = count
        self.selection = selection
        self.largeThreshold = largeThreshold
        self.identifyWindow = identifyWindow
        self.sessionReserve = sessionReserve
        self.sessionSaveInterval = sessionSaveInterval
        self.sessionFreshness = sessionFreshness
        self.identifyLimit = identifyLimit
        self.backoffBase = backoffBase
        self.backoffCap = backoffCap
        self.namespace = namespace
    }

    /// The Redis namespace: the bot's user ID, which a token's first part encodes; otherwise a
    /// hash of the token (never the token itself).
    public var resolvedNamespace: String {
        if let namespace { return namespace }
        if let first = token.split(separator: ".").first {
            var base64 = first.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            while base64.count % 4 != 0 { base64 += "=" }
            if let data = Data(base64Encoded: base64), let id = String(data: data, encoding: .utf8),
               !id.isEmpty, id.allSatisfy(\.isASCII), id.allSatisfy(\.isNumber) {
                return id
            }
        }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in token.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "token-" + String(hash, radix: 16)
    }

    func shard(_ id: Int, of count: Int, gatewayURL: String) -> ShardConfiguration {
        ShardConfiguration(
            token: token, intents: intents, shardID: id, shardCount: count, gatewayURL: gatewayURL, compression: compression,
            largeThreshold: largeThreshold, backoffBase: backoffBase, backoffCap: backoffCap, identifyLimit: identifyLimit,
            savesDurableSequence: savesDurableSequence)
    }
}
