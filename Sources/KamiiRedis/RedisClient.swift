public import NIOCore
public import NIOPosix

/// A pipelined Redis client: one connection, commands written back to back and answered in order.
/// A lost connection fails what was outstanding (``RedisError/connectionLost``) and the next call
/// connects again, so the caller decides what to retry. I/O and reply parsing run on a SwiftNIO
/// event loop; callers only ever await.
public actor RedisClient {
    public nonisolated let configuration: RedisConfiguration
    private let group: any EventLoopGroup
    private var channel: (any Channel)?
    private var connecting: Task<any Channel, any Error>?
    private var isClosed = false
    /// Scripts loaded, found by comparing sources: a script is a static text, so the comparison is
    /// of one storage with itself, where a dictionary would hash the whole text (kilobytes) at every
    /// flush.
    private var scriptHashes: [(source: String, sha: String)] = []

    /// Connections made, for tests and metrics (the first one counts).
    public private(set) var connections = 0

    public init(configuration: RedisConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// Sends every command of `pipeline` in one write; returns their replies in order. Error replies
    /// are values (`.error`), not thrown: one failed command does not hide the others' results.
    public func execute(_ pipeline: RedisPipeline) async throws -> [RedisValue] {
        precondition(pipeline.isComplete, "a pipeline whose last command lacks arguments")
        var attempts = 0
        while true {
            let channel = try await connectedChannel()
            do {
                return try await Self.write(pipeline, to: channel)
            } catch is ConnectionClosing {
                // The connection was already failing and the pipeline never left: a fresh one —
                // but not forever (a server that accepts and closes at once, e.g. at maxclients).
                forget(channel)
                attempts += 1
                if attempts >= 3 { throw RedisError.connectionLost }
            } catch {
                forget(channel)
                throw error
            }
        }
    }

    private func forget(_ failed: any Channel) {
        if channel === failed { channel = nil }
    }

    /// One command; an error reply is thrown as ``RedisError/server(_:)``.
    @discardableResult
    public func send(_ arguments: String...) async throws -> RedisValue {
        var pipeline = RedisPipeline()
        pipeline.append(arguments)
        return try await execute(pipeline)[0].orThrow()
    }

    /// Runs a Lua script by its SHA1, loading it first if this server does not know it (a restarted
    /// or flushed Redis forgets scripts).
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisValue {
        try await evaluateEach(script, [(keys, arguments)])[0].orThrow()
    }

    /// Runs `script` once per call in one pipelined round trip; the calls Redis answered NOSCRIPT
    /// (it restarted, or its scripts were flushed, since the script was loaded) are sent again,
    /// alone, once it is loaded again — so a call is never run twice. The replies in the calls'
    /// order, error replies included (``RedisValue/orThrow()`` each).
    public func evaluateEach(_ script: RedisScript, _ calls: [(keys: [String], arguments: [String])]) async throws -> [RedisValue] {
        var replies = [RedisValue](repeating: .null, count: calls.count)
        var pending = Array(calls.indices)
        for attempt in 0..<2 where !pending.isEmpty {
            let sha = try await load(script, force: attempt > 0)
            var pipeline = RedisPipeline()
            for index in pending { pipeline.append(["EVALSHA", sha, String(calls[index].keys.count)] + calls[index].keys + calls[index].arguments) }
            var unknown: [Int] = []
            for (index, reply) in zip(pending, try await execute(pipeline)) {
                replies[index] = reply
                if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") { unknown.append(index) }
            }
            pending = unknown
        }
        return replies
    }

    /// The script's SHA1 on this server, loading it when not known yet.
    public func load(_ script: RedisScript, force: Bool = false) async throws -> String {
        if !force, let known = scriptHashes.first(where: { $0.source == script.source }) { return known.sha }
        guard let sha = try await send("SCRIPT", "LOAD", script.source).string else {
            throw RedisError.protocolViolation("SCRIPT LOAD answered without a hash")
        }
        scriptHashes.removeAll { $0.source == script.source }
        scriptHashes.append((script.source, sha))
        return sha
    }

    /// Closes the connection; later calls throw ``RedisError/closed``.
    public func close() async {
        isClosed = true
        connecting?.cancel()
        try? await channel?.close()
        channel = nil
    }

    private func send(_ arguments: [String]) async throws -> RedisValue {
        var pipeline = RedisPipeline()
        pipeline.append(arguments)
        return try await execute(pipeline)[0]
    }

    private func connectedChannel() async throws -> any Channel {
        if isClosed { throw RedisError.closed }
        if let channel, channel.isActive { return channel }
        channel = nil
        // Whoever waits on the connect, the one who started it or a caller who came meanwhile,
        // gets a ``RedisError``: callers tell "Redis is away" from other failures by that type.
        if let connecting {
            let channel = try await connecting.value
            // Closed while the connect went on: its starter closes the channel, this caller is told.
            if isClosed { throw RedisError.closed }
            return channel
        }
        let task = Task { [configuration, group] in
            do {
                return try await Self.connect(configuration, group: group)
            } catch let error as RedisError {
                throw error
            } catch {
                throw RedisError.connectionFailed("\(configuration.host):\(configuration.port): \(error)")
            }
        }
        connecting = task
        defer { connecting = nil }
        let channel = try await task.value
        if isClosed {
            try? await channel.close()
            throw RedisError.closed
        }
        self.channel = channel
        connections += 1
        return channel
    }

    private static func connect(_ configuration: RedisConfiguration, group: any EventLoopGroup) async throws -> any Channel {
        let timeout = timeAmount(configuration.commandTimeout)
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeAmount(configuration.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(commandTimeout: timeout, maxReplyBytes: configuration.maxReplyBytes))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .get()
        var hello = RedisPipeline()
        if let password = configuration.password {
            hello.appendConnectionSetup(["AUTH"] + [configuration.username].compactMap { $0 } + [password])
        }
        if configuration.database != 0 { hello.appendConnectionSetup(["SELECT", String(configuration.database)]) }
        do {
            for reply in try await write(hello, to: channel) {
                if case .error(let message) = reply {
                    // The server's words, never the password.
                    throw RedisError.refusingSetUp(message)
                }
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// A timeout as NIO takes it, held within a millisecond and a day (a `Duration` past about 292
    /// years would trap converting to nanoseconds; zero would time every pipeline out at once).
    static func timeAmount(_ duration: Duration) -> TimeAmount {
        let bounded = min(max(duration, .milliseconds(1)), .seconds(86_400))
        return .nanoseconds(Int64(bounded / .nanoseconds(1)))
    }

    private static func write(_ pipeline: RedisPipeline, to channel: any Channel) async throws -> [RedisValue] {
        let promise = channel.eventLoop.makePromise(of: [RedisValue].self)
        // A write that fails before the handler took it (the channel closed meanwhile) would
        // otherwise leave the reply promise unanswered. It fails as `connectionLost`, not as a
        // resend: a write can also fail half-way, after Redis ran the first commands, and running
        // them again is the caller's call. (If the handler took the request, it fails or answers
        // the promise itself; the first completion wins.)
        let written = channel.eventLoop.makePromise(of: Void.self)
        written.futureResult.whenFailure { _ in promise.fail(RedisError.connectionLost) }
        channel.writeAndFlush(RedisRequest(pipeline: pipeline, promise: promise), promise: written)
        return try await promise.futureResult.get()
    }
}

/// A Lua script run with EVALSHA; its source is the key of the client's hash cache.
public struct RedisScript: Sendable, Hashable {
    public let source: String
    public init(_ source: String) { self.source = source }
}
